/** The pages of the sign-in journey. Inputs carry visible labels; buttons say what they do. */
import { html, trusted, type SafeHtml } from './html.js';
import { layout } from './layout.js';
import { PASSKEY_SCRIPTS, passkeySignIn } from './passkey.js';

export interface LoginView {
  readonly uid: string;
  readonly clientName: string;
  readonly username?: string;
  readonly error?: string;
}

export function loginPage(view: LoginView): SafeHtml {
  return layout(
    { title: 'Sign in', scripts: PASSKEY_SCRIPTS },
    html`<h1>Sign in</h1>
<p class="lead">to continue to <strong>${view.clientName}</strong></p>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<form method="post" action="/interaction/${view.uid}/login" autocomplete="on">
  <label for="username">Username</label>
  <input id="username" name="username" type="text" autocomplete="username webauthn" autocapitalize="none" spellcheck="false" required maxlength="64" value="${view.username ?? ''}" autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
  <div class="actions">
    <button type="submit">Sign in</button>
  </div>
</form>
${passkeySignIn(view.uid)}
<form method="post" action="/interaction/${view.uid}/abort">
  <div class="actions"><button type="submit" class="link">Cancel</button></div>
</form>`,
  );
}

export interface ConsentView {
  readonly uid: string;
  readonly clientName: string;
  readonly username: string;
  readonly permissions: readonly string[];
}

export function consentPage(view: ConsentView): SafeHtml {
  return layout(
    { title: 'Allow access', signedIn: true },
    html`<h1>Allow access?</h1>
<p class="lead"><strong>${view.clientName}</strong> is asking to access your account <strong>${view.username}</strong>.</p>
<p>It will be able to:</p>
<ul class="scopes">${view.permissions.map((permission) => html`<li>${permission}</li>`)}</ul>
<form method="post" action="/interaction/${view.uid}/confirm">
  <div class="actions">
    <button type="submit">Allow</button>
    <button type="submit" class="secondary" formaction="/interaction/${view.uid}/abort">Deny</button>
  </div>
</form>`,
  );
}

export function logoutPage(form: string, clientName: string | undefined): SafeHtml {
  return layout(
    { title: 'Sign out', signedIn: false },
    html`<h1>Sign out?</h1>
<p class="lead">${clientName ? html`<strong>${clientName}</strong> asks to sign you out.` : 'You are about to sign out of Gatehouse.'}</p>
${trusted(form)}
<div class="actions">
  <button type="submit" form="op.logoutForm" value="yes" name="logout" autofocus>Sign out</button>
  <button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>
</div>`,
  );
}

export function signedOutPage(clientName: string | undefined): SafeHtml {
  return layout(
    { title: 'Signed out' },
    html`<h1>You are signed out</h1>
<p class="lead">${clientName ? html`You have signed out of <strong>${clientName}</strong> and Gatehouse.` : 'You have signed out of Gatehouse.'}</p>`,
  );
}

export interface ErrorView {
  readonly title: string;
  readonly message: string;
  /** What the person can do now. */
  readonly advice?: string;
  /** The technical reason, for the application's developers. */
  readonly detail?: string;
  readonly code?: string;
  /** SESS-4: a signed-in user sees the sign-out control on error pages too. */
  readonly signedIn?: boolean;
}

export function errorPage(view: ErrorView): SafeHtml {
  return layout(
    { title: view.title, signedIn: view.signedIn ?? false },
    html`<h1>${view.title}</h1>
<p class="lead">${view.message}</p>
${view.advice ? html`<p>${view.advice}</p>` : ''}
${view.code ? html`<p class="muted">Error code: <code>${view.code}</code>${view.detail ? html` (${view.detail})` : ''}</p>` : ''}`,
  );
}

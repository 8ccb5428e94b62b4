/** The second sign-in step: a code from the authenticator app, or a recovery code. */
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';
import { PASSKEY_SCRIPTS, passkeyInstead } from './passkey.js';

export interface SecondFactorView {
  readonly uid: string;
  readonly clientName: string;
  readonly username: string;
  readonly error?: string;
  /** A step-up inside a live session: say why the user is asked again. */
  readonly stepUp?: boolean;
  /** The user has passkeys: offer one instead of the code. */
  readonly passkey?: boolean;
}

export function secondFactorPage(view: SecondFactorView): SafeHtml {
  return layout(
    { title: 'Two-step verification', signedIn: view.stepUp ?? false, ...(view.passkey ? { scripts: PASSKEY_SCRIPTS } : {}) },
    html`<h1>Two-step verification</h1>
<p class="lead">${view.stepUp
      ? html`<strong>${view.clientName}</strong> asks you to confirm it is you, <strong>${view.username}</strong>.`
      : html`Signing in as <strong>${view.username}</strong> to continue to <strong>${view.clientName}</strong>.`}</p>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<form method="post" action="/interaction/${view.uid}/second-factor" autocomplete="off">
  <label for="code">Code from your authenticator app</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus aria-describedby="code-help">
  <p id="code-help" class="muted">Open the authenticator app on your phone and enter the 6-digit code it shows for Gatehouse.</p>
  <div class="actions"><button type="submit">Verify</button></div>
</form>
${view.passkey ? passkeyInstead(view.uid) : ''}
<details class="recovery">
  <summary>Use a recovery code instead</summary>
  <form method="post" action="/interaction/${view.uid}/second-factor" autocomplete="off">
    <label for="recovery_code">Recovery code</label>
    <input id="recovery_code" name="recovery_code" type="text" autocapitalize="characters" spellcheck="false" maxlength="20" required aria-describedby="recovery-help">
    <p id="recovery-help" class="muted">One of the codes you saved when you set up two-step verification. Each works once.</p>
    <div class="actions"><button type="submit" class="secondary">Use recovery code</button></div>
  </form>
</details>
<form method="post" action="/interaction/${view.uid}/abort">
  <div class="actions"><button type="submit" class="link">Cancel</button></div>
</form>`,
  );
}

export interface EnrolmentView {
  readonly uid: string;
  readonly clientName: string;
  readonly username: string;
  readonly qrImage: string;
  readonly secret: string;
  readonly error?: string;
}

/** A client that requires multi-factor sign-in, and a user without a second factor: set one up now. */
/** How to add Gatehouse to an authenticator app: the same steps at sign-in and in the account area. */
export function totpSetupSteps(view: { readonly qrImage: string; readonly secret: string }): SafeHtml {
  return html`<ol class="steps">
  <li>Open an authenticator app on your phone and add an account.</li>
  <li>Scan this QR code:
    <img class="qr" src="${view.qrImage}" width="205" height="205" alt="QR code to add Gatehouse to your authenticator app">
    <p>Cannot scan? Enter this key instead:<br><code id="totp-key" class="key">${view.secret}</code></p>
  </li>
  <li>Enter the 6-digit code the app now shows.</li>
</ol>`;
}

export function totpEnrolmentPage(view: EnrolmentView): SafeHtml {
  return layout(
    { title: 'Set up two-step verification' },
    html`<h1>Set up two-step verification</h1>
<p class="lead"><strong>${view.clientName}</strong> requires two-step verification. Set it up for <strong>${view.username}</strong> to continue.</p>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
${totpSetupSteps(view)}
<form method="post" action="/interaction/${view.uid}/enrol" autocomplete="off">
  <label for="code">Code from your authenticator app</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus>
  <div class="actions"><button type="submit">Turn on two-step verification</button></div>
</form>
<form method="post" action="/interaction/${view.uid}/abort">
  <div class="actions"><button type="submit" class="link">Cancel</button></div>
</form>`,
  );
}

/** Shown once after enrolment during a sign-in; Continue resumes the sign-in at the engine. */
export function enrolledPage(view: { codes: readonly string[]; continueTo: string }): SafeHtml {
  return layout(
    { title: 'Your recovery codes' },
    html`<h1>Your recovery codes</h1>
<p class="notice" role="status">Two-step verification is on.</p>
<p class="lead">Save these codes somewhere safe, away from your phone. Each one signs you in once if you cannot use your authenticator app. They are shown only now.</p>
<ol class="codes">${view.codes.map((code) => html`<li><code>${code}</code></li>`)}</ol>
<p><a class="button" href="${view.continueTo}">I have saved them, continue</a></p>`,
  );
}

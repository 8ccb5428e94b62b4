/** The account area's "Sign-in security" pages: authenticator app and recovery codes (MFA-2). */
import { html, type SafeHtml } from '../interactions/views/html.js';
import { totpSetupSteps } from '../interactions/views/second-factor.js';
import type { SecondFactorStatus } from '../mfa/store.js';
import { accountLayout, endOtherSessionsOffer } from './views.js';

const day = (date: Date) => date.toISOString().slice(0, 10);

export function securityPage(view: { csrf: string; status: SecondFactorStatus; notice?: string | undefined; errors?: readonly string[] }): SafeHtml {
  const { totp, recoveryCodesLeft } = view.status;
  return accountLayout(
    'Sign-in security',
    view.csrf,
    html`<h1>Sign-in security</h1>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.errors?.length ? html`<div class="error" role="alert"><ul>${view.errors.map((error) => html`<li>${error}</li>`)}</ul></div>` : ''}
<h2>Two-step verification</h2>
${totp
  ? html`<p>An authenticator app is set up (since ${day(totp.enrolledAt)}${totp.lastUsedAt ? html`, last used ${day(totp.lastUsedAt)}` : ''}). After your password, you are asked for a code from it.</p>
<h2>Recovery codes</h2>
<p>${recoveryCodesLeft} of 10 recovery codes left. Each lets you sign in once if you lose your phone.</p>
<form method="post" action="/account/recovery-codes">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <div class="actions"><button type="submit" class="secondary">Generate new recovery codes</button></div>
</form>
<h2>Remove the authenticator app</h2>
<form method="post" action="/account/totp/remove">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <label for="current_password">Current password</label>
  <input id="current_password" name="current_password" type="password" autocomplete="current-password" required maxlength="1024">
  <div class="actions"><button type="submit" class="secondary">Remove authenticator app</button></div>
</form>`
  : html`<p>Protect your account with a second step: after your password, a 6-digit code from an authenticator app on your phone.</p>
<form method="post" action="/account/totp/start">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <div class="actions"><button type="submit">Set up an authenticator app</button></div>
</form>`}`,
  );
}

export function totpSetupPage(view: { csrf: string; qrImage: string; secret: string; error?: string }): SafeHtml {
  return accountLayout(
    'Set up an authenticator app',
    view.csrf,
    html`<h1>Set up an authenticator app</h1>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
${totpSetupSteps(view)}
<form method="post" action="/account/totp/confirm" autocomplete="off">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <label for="code">Code from your authenticator app</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus>
  <div class="actions"><button type="submit">Turn on two-step verification</button></div>
</form>`,
  );
}

export function recoveryCodesPage(view: { csrf: string; codes: readonly string[]; justEnrolled: boolean }): SafeHtml {
  return accountLayout(
    'Your recovery codes',
    view.csrf,
    html`<h1>Your recovery codes</h1>
${view.justEnrolled ? html`<p class="notice" role="status">Two-step verification is on.</p>` : ''}
<p class="lead">Save these codes somewhere safe, away from your phone. Each one signs you in once if you cannot use your authenticator app. They are shown only now${view.justEnrolled ? '' : '; your previous codes no longer work'}.</p>
<ol class="codes">${view.codes.map((code) => html`<li><code>${code}</code></li>`)}</ol>
<p><a class="button" href="/account/security">I have saved them</a></p>`,
  );
}

/** After a second factor or passkey is removed: offer, pre-selected, to sign out everywhere else (SESS-10). */
export function factorRemovedPage(view: { csrf: string; title: string; message: string; otherSessions: number; backTo: string }): SafeHtml {
  return accountLayout(
    view.title,
    view.csrf,
    html`<h1>${view.title}</h1>
<p class="notice" role="status">${view.message}</p>
${view.otherSessions
  ? endOtherSessionsOffer(view.csrf, view.otherSessions, 'If you removed it because it was lost or someone else may have used it, sign them out now.')
  : html`<p><a href="${view.backTo}">Back</a></p>`}`,
  );
}

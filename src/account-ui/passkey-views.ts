/** The account area's passkey page (MFA-1): list, name, add, remove. */
import { html, type SafeHtml } from '../interactions/views/html.js';
import { PASSKEY_SCRIPTS } from '../interactions/views/passkey.js';
import { accountLayout } from './views.js';
import type { Passkey } from '../mfa/passkeys.js';

const day = (date: Date) => date.toISOString().slice(0, 10);

export function passkeysPage(view: {
  csrf: string;
  passkeys: readonly Passkey[];
  notice?: string | undefined;
  errors?: readonly string[];
  /** Set when the session's sign-in is not recent: adding a passkey needs a fresh one first. */
  reauthenticate?: string | undefined;
}): SafeHtml {
  return accountLayout(
    'Passkeys',
    view.csrf,
    html`<h1>Passkeys</h1>
<p class="lead">A passkey signs you in with your device's screen lock or a security key instead of your password. It cannot be phished or guessed.</p>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.errors?.length ? html`<div class="error" role="alert"><ul>${view.errors.map((error) => html`<li>${error}</li>`)}</ul></div>` : ''}
${view.passkeys.length
  ? html`<table class="sessions passkeys">
  <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
  <tbody>
  ${view.passkeys.map(
    (passkey) => html`<tr>
    <td>${passkey.name}</td>
    <td>${passkey.deviceType === 'multiDevice' ? (passkey.backedUp ? 'Synced' : 'Can sync') : 'This device only'}</td>
    <td>${day(passkey.createdAt)}</td>
    <td>${passkey.lastUsedAt ? day(passkey.lastUsedAt) : 'Never'}</td>
    <td>
      <details><summary>Rename or remove <span class="visually-hidden">${passkey.name}</span></summary>
        <form method="post" action="/account/passkeys/${passkey.id}/rename">
          <input type="hidden" name="csrf" value="${view.csrf}">
          <label for="name-${passkey.id}">New name for ${passkey.name}</label>
          <input id="name-${passkey.id}" name="name" type="text" required maxlength="64" value="${passkey.name}">
          <div class="actions"><button type="submit" class="secondary">Rename</button></div>
        </form>
        <form method="post" action="/account/passkeys/${passkey.id}/remove">
          <input type="hidden" name="csrf" value="${view.csrf}">
          <label for="password-${passkey.id}">Current password, to remove ${passkey.name}</label>
          <input id="password-${passkey.id}" name="current_password" type="password" autocomplete="current-password" required maxlength="1024">
          <div class="actions"><button type="submit" class="secondary">Remove ${passkey.name}</button></div>
        </form>
      </details>
    </td>
  </tr>`,
  )}
  </tbody>
</table>`
  : html`<p class="muted">You have no passkeys yet.</p>`}
<h2>Add a passkey</h2>
${view.reauthenticate
  ? html`<p>You signed in a while ago. To add a passkey, sign in again first.</p>
<p><a class="button" href="${view.reauthenticate}">Sign in again</a></p>`
  : html`<form method="post" action="/account/passkeys" data-passkey-register data-options-url="/account/passkeys/options">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <input type="hidden" name="response" value="">
  <label for="passkey-name">Name</label>
  <input id="passkey-name" name="name" type="text" required maxlength="64" placeholder="e.g. Work laptop" aria-describedby="passkey-name-help">
  <p id="passkey-name-help" class="muted">A name that tells you which device or key it is.</p>
  <div class="actions"><button type="submit">Add a passkey</button></div>
  <p class="muted" data-passkey-status role="status" aria-live="polite"></p>
</form>`}`,
    PASSKEY_SCRIPTS,
  );
}

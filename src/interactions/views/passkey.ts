/**
 * The passkey options of the sign-in pages (MFA-1): hidden until /assets/passkeys.js finds
 * WebAuthn, which then runs the ceremony and submits the form with the assertion.
 */
import { html, type SafeHtml } from './html.js';

export const PASSKEY_SCRIPTS = ['/assets/simplewebauthn-browser.js', '/assets/passkeys.js'] as const;

/** The login page's: any of the user's passkeys, from the button or the username field's autofill. */
export function passkeySignIn(uid: string): SafeHtml {
  return html`<form method="post" action="/interaction/${uid}/passkey" data-passkey-sign-in data-passkey-autofill data-options-url="/interaction/${uid}/passkey/options" data-failure="The passkey could not be used. Try again, or sign in with your password." hidden>
  <input type="hidden" name="response" value="">
  <p class="divider"><span>or</span></p>
  <div class="actions"><button type="button" class="secondary">Use a passkey</button></div>
  <p class="muted" data-passkey-status role="status" aria-live="polite"></p>
</form>`;
}

/** The code page's, for a user who also has passkeys: one of that user's passkeys instead of the code. */
export function passkeyInstead(uid: string): SafeHtml {
  return html`<form method="post" action="/interaction/${uid}/second-factor/passkey" data-passkey-sign-in data-options-url="/interaction/${uid}/second-factor/passkey/options" data-failure="The passkey could not be used. Try again, or enter a code." hidden>
  <input type="hidden" name="response" value="">
  <p class="divider"><span>or</span></p>
  <div class="actions"><button type="button" class="secondary">Use a passkey instead</button></div>
  <p class="muted" data-passkey-status role="status" aria-live="polite"></p>
</form>`;
}

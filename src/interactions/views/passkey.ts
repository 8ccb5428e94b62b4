/** The login page's passkey option (MFA-1): hidden until /assets/passkeys.js finds WebAuthn. */
import { html, type SafeHtml } from './html.js';

export const PASSKEY_SCRIPTS = ['/assets/simplewebauthn-browser.js', '/assets/passkeys.js'] as const;

export function passkeySignIn(uid: string): SafeHtml {
  return html`<form method="post" action="/interaction/${uid}/passkey" data-passkey-sign-in data-options-url="/interaction/${uid}/passkey/options" hidden>
  <input type="hidden" name="response" value="">
  <p class="divider"><span>or</span></p>
  <div class="actions"><button type="button" class="secondary">Use a passkey</button></div>
  <p class="muted" data-passkey-status role="status" aria-live="polite"></p>
</form>`;
}

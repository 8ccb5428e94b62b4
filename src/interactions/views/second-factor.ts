/** The second sign-in step: a code from the authenticator app, or a recovery code. */
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

export interface SecondFactorView {
  readonly uid: string;
  readonly clientName: string;
  readonly username: string;
  readonly error?: string;
  /** A step-up inside a live session: say why the user is asked again. */
  readonly stepUp?: boolean;
}

export function secondFactorPage(view: SecondFactorView): SafeHtml {
  return layout(
    { title: 'Two-step verification' },
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

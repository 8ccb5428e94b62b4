import { html, type SafeHtml } from './html.js';

export interface LayoutOptions {
  readonly title: string;
  /** Shown to a signed-in user: every such page carries a sign-out control (SESS-4). */
  readonly signedIn?: boolean;
  readonly wide?: boolean;
  /** Replaces the default header controls (the account area has its own navigation). */
  readonly nav?: SafeHtml;
  /** Same-origin scripts (CSP: script-src 'self'), e.g. the passkey ceremonies. */
  readonly scripts?: readonly string[];
}

export function layout(options: LayoutOptions, body: SafeHtml): SafeHtml {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${options.title} · Gatehouse</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
${(options.scripts ?? []).map((src) => html`<script src="${src}" defer></script>
`)}</head>
<body>
<header class="bar">
  <span class="brand">Gatehouse</span>
  ${options.nav ?? (options.signedIn ? html`<a class="button secondary" href="/session/end">Sign out</a>` : '')}
</header>
<main${options.wide ? html` class="wide"` : ''}>
${body}
</main>
</body>
</html>`;
}

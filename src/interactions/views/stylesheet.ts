/** The one stylesheet, served from /assets/gatehouse.css (CSP forbids inline styles). */
export const STYLESHEET = `
:root { color-scheme: light dark; --accent: #2f5bd3; --danger: #b42318; --muted: #667085; --card: #ffffff; --page: #f2f4f7; --text: #101828; --border: #d0d5dd; }
@media (prefers-color-scheme: dark) { :root { --card: #1d2433; --page: #111622; --text: #f2f4f7; --border: #3a4356; --muted: #98a2b3; --accent: #7a9cff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--page); color: var(--text); }
header.bar { display: flex; align-items: center; justify-content: space-between; padding: 12px 24px; border-bottom: 1px solid var(--border); background: var(--card); }
header.bar .brand { font-weight: 700; letter-spacing: .02em; }
header.bar form { margin: 0; }
main { max-width: 440px; margin: 48px auto; padding: 32px; background: var(--card); border: 1px solid var(--border); border-radius: 12px; }
main.wide { max-width: 720px; }
h1 { font-size: 1.5rem; margin: 0 0 8px; }
p.lead { color: var(--muted); margin-top: 0; }
label { display: block; font-weight: 600; margin: 16px 0 4px; }
input[type=text], input[type=password], input[type=email] { width: 100%; padding: 10px 12px; font: inherit; border: 1px solid var(--border); border-radius: 8px; background: transparent; color: inherit; }
input:focus, button:focus, a:focus { outline: 3px solid var(--accent); outline-offset: 2px; }
.actions { display: flex; gap: 12px; margin-top: 24px; }
button, .button { white-space: nowrap; appearance: none; border: 1px solid var(--accent); background: var(--accent); color: #fff; padding: 10px 18px; font: inherit; font-weight: 600; border-radius: 8px; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: transparent; color: var(--accent); }
button.link { background: none; border: none; color: var(--accent); padding: 0; font-weight: 500; text-decoration: underline; }
.error { border: 1px solid var(--danger); color: var(--danger); border-radius: 8px; padding: 10px 12px; margin: 16px 0; }
ul.scopes { padding-left: 20px; }
ul.scopes li { margin: 6px 0; }
small, .muted { color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
`;

/** Account-area additions: a session table and inline header forms. */
export const ACCOUNT_STYLES = `
nav.inline { display: flex; gap: 16px; align-items: center; margin: 0; }
nav.inline form { margin: 0; }
table.sessions { width: 100%; border-collapse: collapse; margin: 16px 0; }
table.sessions th, table.sessions td { text-align: left; padding: 10px 8px; border-bottom: 1px solid var(--border); vertical-align: middle; }
table.sessions form { margin: 0; }
.badge { display: inline-block; font-size: .8em; padding: 2px 8px; border-radius: 999px; background: var(--accent); color: #fff; margin-left: 6px; }
.notice { border: 1px solid var(--accent); border-radius: 8px; padding: 10px 12px; }
fieldset { border: 1px solid var(--border); border-radius: 8px; padding: 12px 16px; }
label.choice { font-weight: 400; display: flex; gap: 8px; align-items: center; margin: 8px 0; }
img.qr { display: block; margin: 12px 0; background: #fff; padding: 4px; border-radius: 8px; }
ol.codes { columns: 2; font-size: 1.1em; padding-left: 28px; }
ol.codes li { margin: 0 0 8px; break-inside: avoid; }
code.key { font-size: 1.05em; letter-spacing: .04em; }
ol.steps li { margin: 8px 0; }
details.recovery { margin-top: 20px; }
details.recovery summary { cursor: pointer; color: var(--accent); }
h2 { font-size: 1.15rem; margin: 24px 0 8px; }
p.divider { display: flex; align-items: center; gap: 12px; color: var(--muted); margin: 24px 0 0; }
p.divider::before, p.divider::after { content: ""; flex: 1; border-top: 1px solid var(--border); }
[hidden] { display: none !important; }
table.passkeys input[type=text] { width: auto; padding: 6px 8px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

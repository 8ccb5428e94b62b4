/** The account area's pages: sessions and password. Every page carries a sign-out control (SESS-4). */
import { html, type SafeHtml } from '../interactions/views/html.js';
import { layout } from '../interactions/views/layout.js';

export interface SessionView {
  readonly handle: string;
  readonly device: string;
  readonly network: string;
  readonly startedAt: Date;
  readonly lastSeenAt: Date;
  readonly current: boolean;
}

const when = (date: Date) => date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

export function accountLayout(title: string, csrf: string, body: SafeHtml, scripts: readonly string[] = []): SafeHtml {
  const nav = html`<nav class="actions inline">
    <a href="/account">Sessions</a>
    <a href="/account/password">Password</a>
    <a href="/account/security">Sign-in security</a>
    <a href="/account/passkeys">Passkeys</a>
    <form method="post" action="/account/sign-out"><input type="hidden" name="csrf" value="${csrf}"><button type="submit" class="secondary">Sign out</button></form>
  </nav>`;
  return layout({ title, wide: true, nav, scripts }, body);
}

export function sessionsPage(view: { username: string; csrf: string; sessions: readonly SessionView[]; notice?: string }): SafeHtml {
  const others = view.sessions.filter((session) => !session.current).length;
  return accountLayout(
    'Your sessions',
    view.csrf,
    html`<h1>Your sessions</h1>
<p class="lead">Signed in as <strong>${view.username}</strong>. These are the browsers and devices signed in to your account.</p>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
<table class="sessions">
  <thead><tr><th scope="col">Device</th><th scope="col">Network</th><th scope="col">Signed in</th><th scope="col">Last active</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
  <tbody>
  ${view.sessions.map(
    (session) => html`<tr>
    <td>${session.device}${session.current ? html` <span class="badge">This device</span>` : ''}</td>
    <td>${session.network}</td>
    <td>${when(session.startedAt)}</td>
    <td>${when(session.lastSeenAt)}</td>
    <td>${session.current
      ? ''
      : html`<form method="post" action="/account/sessions/${session.handle}/end"><input type="hidden" name="csrf" value="${view.csrf}"><button type="submit" class="secondary" aria-label="Sign out ${session.device}">Sign out</button></form>`}</td>
  </tr>`,
  )}
  </tbody>
</table>
${others
  ? html`<form method="post" action="/account/sessions/end-others"><input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="choice" value="end"><div class="actions"><button type="submit">Sign out everywhere else</button></div></form>`
  : html`<p class="muted">You are not signed in anywhere else.</p>`}`,
  );
}

export function passwordPage(view: { csrf: string; errors?: readonly string[] }): SafeHtml {
  return accountLayout(
    'Change password',
    view.csrf,
    html`<h1>Change password</h1>
${view.errors?.length ? html`<div class="error" role="alert"><ul>${view.errors.map((error) => html`<li>${error}</li>`)}</ul></div>` : ''}
<form method="post" action="/account/password">
  <input type="hidden" name="csrf" value="${view.csrf}">
  <label for="current_password">Current password</label>
  <input id="current_password" name="current_password" type="password" autocomplete="current-password" required maxlength="1024">
  <label for="new_password">New password</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="12" maxlength="1024" aria-describedby="password-rules">
  <p id="password-rules" class="muted">At least 12 characters, and not containing your username.</p>
  <label for="confirm_password">New password again</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required minlength="12" maxlength="1024">
  <div class="actions"><button type="submit">Change password</button></div>
</form>`,
  );
}

/** SESS-10: after a change that may follow a compromise, the offer (pre-selected) to end every other session. */
export function endOtherSessionsOffer(csrf: string, otherSessions: number, why: string): SafeHtml {
  return html`<p class="lead">You are still signed in on ${otherSessions} other ${otherSessions === 1 ? 'session' : 'sessions'}. ${why}</p>
<form method="post" action="/account/sessions/end-others">
  <input type="hidden" name="csrf" value="${csrf}">
  <fieldset>
    <legend>Other sessions</legend>
    <label class="choice"><input type="radio" name="choice" value="end" checked> Sign out all other sessions and revoke their access</label>
    <label class="choice"><input type="radio" name="choice" value="keep"> Keep them signed in</label>
  </fieldset>
  <div class="actions"><button type="submit">Continue</button></div>
</form>`;
}

export function passwordChangedPage(view: { csrf: string; otherSessions: number }): SafeHtml {
  return accountLayout(
    'Password changed',
    view.csrf,
    html`<h1>Password changed</h1>
${view.otherSessions
  ? endOtherSessionsOffer(view.csrf, view.otherSessions, 'If you changed your password because you think someone else used your account, sign them out now.')
  : html`<p class="lead">You are not signed in anywhere else.</p><p><a href="/account">Back to your sessions</a></p>`}`,
  );
}

/**
 * One refresh at a time per browser session. Two tabs share the refresh cookie, and Gatehouse
 * rotates the refresh token on every use and treats a second use of the old one as theft (it
 * revokes the whole grant). So a refresh that arrives while another is running for the same
 * session waits for it, and one that still carries the token just rotated gets that rotation's
 * result (for a short grace period) instead of presenting the used token to Gatehouse.
 * After sign-out the session is ended here too, for as long as a result could be remembered: a
 * refresh still running, or one arriving with a cookie from before, gets nothing.
 * In memory: several BFF instances need sticky sessions or a shared store (e.g. Redis) for this.
 */
import { createHash } from 'node:crypto';

interface Remembered<T> {
  readonly from: string;
  readonly outcome: T;
  readonly until: number;
}

const digest = (token: string) => createHash('sha256').update(token).digest('base64url');

/** The session was signed out: no refresh result is handed out for it. */
export class SessionEnded extends Error {}

export class RefreshSerializer<T> {
  readonly #running = new Map<string, Promise<T>>();
  readonly #recent = new Map<string, Remembered<T>>();
  /** Signed-out sessions, until when nothing of theirs may be handed out. */
  readonly #ended = new Map<string, number>();

  constructor(private readonly graceMs = 30_000) {}

  async refresh(session: string, refreshToken: string, perform: () => Promise<T>): Promise<T> {
    for (let running = this.#running.get(session); running; running = this.#running.get(session)) {
      await running.catch(() => undefined);
    }
    if (this.#recent.size > 1000 || this.#ended.size > 1000) this.#prune();
    if (this.#isEnded(session)) throw new SessionEnded();
    const recent = this.#recent.get(session);
    if (recent && recent.until >= Date.now() && recent.from === digest(refreshToken)) return recent.outcome;
    const run = perform().then((outcome) => {
      // Signed out while Gatehouse answered: sign-out revoked the grant; hand out nothing.
      if (this.#isEnded(session)) throw new SessionEnded();
      this.#recent.set(session, { from: digest(refreshToken), outcome, until: Date.now() + this.graceMs });
      return outcome;
    });
    this.#running.set(session, run);
    try {
      return await run;
    } finally {
      this.#running.delete(session);
    }
  }

  /** Waits for a running refresh; returns what it produced, so sign-out can revoke the newest token. */
  async settle(session: string): Promise<T | undefined> {
    await this.#running.get(session)?.catch(() => undefined);
    return this.#recent.get(session)?.outcome;
  }

  /** After sign-out nothing remembered for the session may be handed out again. */
  forget(session: string): void {
    this.#recent.delete(session);
    this.#ended.set(session, Date.now() + this.graceMs);
  }

  #isEnded(session: string): boolean {
    const until = this.#ended.get(session);
    return until !== undefined && until >= Date.now();
  }

  #prune(): void {
    const now = Date.now();
    for (const [session, remembered] of this.#recent) if (remembered.until < now) this.#recent.delete(session);
    for (const [session, until] of this.#ended) if (until < now) this.#ended.delete(session);
  }
}

/**
 * Shared rate limits without a database round trip per request. Each process decides locally
 * from the shared count it last heard plus its own not-yet-shared requests, and adds its count
 * to the shared store (PostgreSQL or Redis, via rate-limiter-flexible) every `syncMs`. Replicas
 * therefore count together, with at most one sync interval of lag: a burst split across N
 * replicas can overshoot a limit by what they serve in that interval. `syncMs = 0` consumes from
 * the store on every request (exact, slower).
 */
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

interface Window {
  /** Total the store reported at the last sync (this process's earlier requests included). */
  shared: number;
  /** Requests this process allowed since the last sync. */
  pending: number;
  /** Requests on their way to the store in a sync that has not answered yet. */
  sending: number;
  /** When the store's window for this key ends. */
  endsAt: number;
}

export interface Limiter {
  consume(key: string): Promise<RateLimiterRes>;
}

/**
 * A refusal to answer with, or undefined while `key` has points left; consumes nothing.
 * Synchronous in batched mode (the hot path pays no promise), a promise in exact mode.
 */
export interface Peekable {
  exhausted(key: string): RateLimiterRes | undefined | Promise<RateLimiterRes | undefined>;
}

export class BatchedLimiter implements Limiter, Peekable {
  readonly #windows = new Map<string, Window>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RateLimiterAbstract,
    private readonly points: number,
    private readonly durationSeconds: number,
    private readonly syncMs: number,
  ) {}

  async consume(key: string): Promise<RateLimiterRes> {
    if (this.syncMs === 0) return this.store.consume(key);
    const now = Date.now();
    let window = this.#windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { shared: 0, pending: 0, sending: 0, endsAt: now + this.durationSeconds * 1000 };
      this.#windows.set(key, window);
    }
    const used = window.shared + window.sending + window.pending + 1;
    if (used > this.points) {
      throw new RateLimiterRes(0, Math.max(1, window.endsAt - now), used, false);
    }
    window.pending += 1;
    this.#scheduleSync();
    return new RateLimiterRes(this.points - used, Math.max(1, window.endsAt - now), used, false);
  }

  exhausted(key: string): RateLimiterRes | undefined | Promise<RateLimiterRes | undefined> {
    const now = Date.now();
    if (this.syncMs === 0) {
      return this.store.get(key).then((res) =>
        res && res.consumedPoints >= this.points ? new RateLimiterRes(0, Math.max(1, res.msBeforeNext), res.consumedPoints, false) : undefined,
      );
    }
    const window = this.#windows.get(key);
    if (!window || window.endsAt <= now) return undefined;
    const used = window.shared + window.sending + window.pending;
    return used >= this.points ? new RateLimiterRes(0, Math.max(1, window.endsAt - now), used, false) : undefined;
  }

  #scheduleSync(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.sync();
    }, this.syncMs);
    this.#timer.unref();
  }

  /** Adds local counts to the store and learns the shared totals. */
  async sync(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.#windows.entries()].map(async ([key, window]) => {
        if (window.endsAt <= now) {
          this.#windows.delete(key);
          return;
        }
        const delta = window.pending;
        if (delta === 0) return;
        window.pending = 0;
        window.sending += delta;
        try {
          const res = await this.store.penalty(key, delta);
          window.shared = Math.max(window.shared + delta, res.consumedPoints);
          if (res.msBeforeNext > 0) window.endsAt = Date.now() + res.msBeforeNext;
        } catch {
          // The store is unreachable: keep counting locally and try again next time.
          window.pending += delta;
          this.#scheduleSync();
        } finally {
          window.sending -= delta;
        }
      }),
    );
  }
}

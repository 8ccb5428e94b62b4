/**
 * Brute-force and credential-stuffing defence for the login form (API-2). Failures are counted
 * per account+IP, per account and per IP; past a free allowance each further failure doubles a
 * wait (capped at LOGIN_MAX_DELAY), so guessing slows to a crawl but no attacker can lock a real
 * user out for good. Keys use the submitted name, so answers are the same whether it exists.
 */
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config/index.js';
import type { RateLimits } from './rate-limits.js';

interface Counter {
  readonly name: string;
  readonly free: number;
  readonly failures: RateLimiterAbstract;
  readonly wait: RateLimiterAbstract;
}

const WINDOW_SECONDS = 24 * 3600;

export class LoginThrottle {
  readonly #counters: Counter[];

  constructor(
    limits: RateLimits,
    private readonly settings: Config['rateLimits']['login'],
  ) {
    const counter = (name: string, free: number): Counter => ({
      name,
      free,
      // Failures are remembered for a day; the wait limiter holds one point that is "blocked".
      failures: limits.limiter(`login-fail-${name}`, 1_000_000, WINDOW_SECONDS),
      wait: limits.limiter(`login-wait-${name}`, 1, 1),
    });
    this.#counters = [
      counter('account-ip', settings.freeFailuresPerAccountAndIp),
      counter('account', settings.freeFailuresPerAccount),
      counter('ip', settings.freeFailuresPerIp),
    ];
  }

  private keys(username: string, ip: string): string[] {
    const account = username.trim().toLowerCase().slice(0, 128);
    return [`${account}|${ip}`, account, ip];
  }

  /** Seconds to wait before this attempt may be checked at all (0: go ahead). */
  async secondsToWait(username: string, ip: string): Promise<number> {
    const keys = this.keys(username, ip);
    const waits = await Promise.all(
      this.#counters.map(async (counter, i) => {
        const state = await counter.wait.get(keys[i] ?? '');
        return state && state.consumedPoints > 1 ? Math.ceil(state.msBeforeNext / 1000) : 0;
      }),
    );
    return Math.max(0, ...waits);
  }

  async failed(username: string, ip: string): Promise<void> {
    const keys = this.keys(username, ip);
    await Promise.all(
      this.#counters.map(async (counter, i) => {
        const key = keys[i] ?? '';
        const res = await counter.failures.penalty(key, 1);
        const excess = res.consumedPoints - counter.free;
        if (excess > 0) {
          const delay = Math.min(2 ** (excess - 1), this.settings.maxDelaySeconds);
          await counter.wait.block(key, delay);
        }
      }),
    );
  }

  /** A success forgives this browser's failures on this account, not the account's or the IP's. */
  async succeeded(username: string, ip: string): Promise<void> {
    const [accountIp] = this.keys(username, ip);
    const counter = this.#counters[0];
    if (!counter || !accountIp) return;
    await Promise.all([counter.failures.delete(accountIp), counter.wait.delete(accountIp)]);
  }
}

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

  /**
   * Counts this attempt before its password is checked, so parallel attempts cannot all slip
   * through one free slot. Returns seconds to wait (the attempt is then not checked and not
   * counted), or 0 to go ahead. Past the free allowance only one attempt at a time gets through
   * each wait (the wait limiter holds a single point), and the next wait doubles.
   */
  async begin(username: string, ip: string): Promise<number> {
    const keys = this.keys(username, ip);
    // While any wait runs the attempt is refused before anything is counted, so a refused
    // attempt never starts or lengthens a wait on another counter (the same address's other
    // names, or the account from other addresses).
    const waits = await Promise.all(this.#counters.map((counter, i) => counter.wait.get(keys[i] ?? '')));
    const running = Math.max(0, ...waits.map((res) => (res && res.consumedPoints > 1 ? Math.ceil(res.msBeforeNext / 1000) : 0)));
    if (running > 0) return running;
    const counted: Counter[] = [];
    let wait = 0;
    for (const [i, counter] of this.#counters.entries()) {
      const key = keys[i] ?? '';
      const failures = (await counter.failures.penalty(key, 1)).consumedPoints;
      counted.push(counter);
      const excess = failures - counter.free;
      if (excess <= 0) continue;
      try {
        await counter.wait.consume(key);
      } catch (blocked) {
        // A parallel attempt started this wait a moment ago.
        wait = Math.max(wait, Math.ceil(((blocked as { msBeforeNext?: number }).msBeforeNext ?? 1000) / 1000));
        continue;
      }
      await counter.wait.block(key, Math.min(2 ** (excess - 1), this.settings.maxDelaySeconds));
    }
    if (wait > 0) {
      // Refused attempts are not checked, so they do not count against the real user either.
      await Promise.all(counted.map((counter) => counter.failures.reward(keys[this.#counters.indexOf(counter)] ?? '', 1)));
    }
    return wait;
  }

  /**
   * A success forgives this browser's failures on this account, and takes back the count
   * `begin` added to the account's and the address's totals (their other failures stand).
   */
  async succeeded(username: string, ip: string): Promise<void> {
    const keys = this.keys(username, ip);
    const [accountIp, account, address] = this.#counters;
    await Promise.all([
      accountIp?.failures.delete(keys[0] ?? ''),
      accountIp?.wait.delete(keys[0] ?? ''),
      account?.failures.reward(keys[1] ?? '', 1),
      address?.failures.reward(keys[2] ?? '', 1),
    ]);
  }
}

/**
 * API-2: a sign-in attempt refused because a wait is running is not checked and not counted —
 * and starts no wait of its own on the other counters, which would slow down other names from
 * the same address (or the same name from other addresses) for an attempt nobody checked.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Config } from '../../src/config/index.js';
import { LoginThrottle } from '../../src/security/login-throttle.js';
import { RateLimits } from '../../src/security/rate-limits.js';

const settings = { freeFailuresPerAccountAndIp: 1, freeFailuresPerAccount: 20, freeFailuresPerIp: 2, maxDelaySeconds: 60 };

function throttle(): LoginThrottle {
  // In memory: the counting logic is what is tested (the shared stores have their own tests).
  const limits = RateLimits.create({ rateLimits: { redisUrl: undefined } } as unknown as Config, { knex: undefined as never, kind: 'embedded' }, pino({ level: 'silent' }));
  return new LoginThrottle(limits, settings);
}

describe('login throttle', () => {
  it('refuses during a wait without starting a wait for other names from the address', async () => {
    const login = throttle();
    // Two failures for ada: the second passes her free allowance for this address, so she waits.
    expect(await login.begin('ada', '192.0.2.1')).toBe(0);
    expect(await login.begin('ada', '192.0.2.1')).toBe(0);
    // Refused while she waits. Had it been counted, the address's third failure would have
    // passed its allowance of two and started a wait for everyone behind that address.
    expect(await login.begin('ada', '192.0.2.1')).toBeGreaterThan(0);
    expect(await login.begin('bob', '192.0.2.1')).toBe(0);
  });

  it('still makes the address wait once its own allowance is spent by checked attempts', async () => {
    const login = throttle();
    expect(await login.begin('ada', '192.0.2.1')).toBe(0);
    expect(await login.begin('bob', '192.0.2.1')).toBe(0);
    // The address's third checked failure passes its allowance: it goes ahead and starts the wait.
    expect(await login.begin('cy', '192.0.2.1')).toBe(0);
    expect(await login.begin('dee', '192.0.2.1')).toBeGreaterThan(0);
  });
});

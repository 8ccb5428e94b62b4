/**
 * API-2 for passkey sign-in, in real Chromium with a virtual authenticator on PostgreSQL:
 * assertions that do not verify count in the same login throttle as passwords and codes — per
 * account and address, per account, per address — and past the free allowance even a valid
 * assertion is refused with 429 and Retry-After without being checked; made-up credentials
 * count against their address only; a passkey sign-in forgives its address's failures like a
 * password sign-in; another address is not slowed down.
 *
 * A valid assertion is made by the browser and held (test/support/held-assertion.ts), so the
 * test sends it at a moment of its choosing.
 * Addresses come from X-Forwarded-For (TRUST_PROXY=true).
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Held } from '../support/held-assertion.js';
import { startPasskeyBrowser, type PasskeyBrowser } from '../support/passkey-browser.js';
import type { TestServer } from '../support/server.js';

let fixture: PasskeyBrowser;
let server: TestServer;
let page: Page;
let user: PasskeyBrowser['user'];

beforeAll(async () => {
  fixture = await startPasskeyBrowser({
    username: 'petra',
    passkeyName: 'Throttled laptop',
    state: 'throttle',
    enrolFrom: '192.0.2.1',
    env: { TRUST_PROXY: 'true', LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: '3', LOGIN_FREE_FAILURES_PER_IP: '4', LOGIN_MAX_DELAY: '60' },
  });
  ({ server, page, user } = fixture);
});

afterAll(() => fixture?.close());

const holdAssertion = (address: string) => fixture.holder.hold(address);
const openInteraction = (address: string) => fixture.holder.open(address);
const sendAssertion = (uid: string, body: string, address: string) => fixture.holder.send(uid, body, address);
const headers = (address: string) => fixture.holder.headers(address);

/** A failed attempt on `uid`: fresh options, as the page would fetch, then a bad assertion. */
async function failOnce(uid: string, body: string, address: string): Promise<number> {
  await page.request.post(`${server.issuer}/interaction/${uid}/passkey/options`, { headers: headers(address) });
  return (await sendAssertion(uid, body, address)).status;
}

/** `held` with its assertion changed by `change`. */
function altered(held: Held, change: (assertion: { id: string; rawId: string; response: { signature: string } }) => void): string {
  const form = new URLSearchParams(held.body);
  const assertion = JSON.parse(form.get('response') ?? '{}') as { id: string; rawId: string; response: { signature: string } };
  change(assertion);
  form.set('response', JSON.stringify(assertion));
  return form.toString();
}

const badSignature = (held: Held) =>
  altered(held, (assertion) => {
    const signature = Buffer.from(assertion.response.signature, 'base64url');
    signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 0xff;
    assertion.response.signature = signature.toString('base64url');
  });

const unknownCredential = (held: Held) =>
  altered(held, (assertion) => {
    assertion.id = randomBytes(16).toString('base64url');
    assertion.rawId = assertion.id;
  });

async function storedPasskey() {
  const [passkey] = await server.gatehouse.services.passkeys.list(user.account.id);
  return { counter: passkey?.counter, lastUsedAt: passkey?.lastUsedAt?.getTime() };
}

describe('API-2 passkey sign-in goes through the login throttle', () => {
  it('after the free failures from one address, refuses even a valid passkey with 429 and does not check it', async () => {
    const address = '203.0.113.10';
    const valid = await holdAssertion(address);
    const forged = badSignature(await holdAssertion(address));
    const uid = await openInteraction(address);
    const before = await storedPasskey();
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt += 1) statuses.push(await failOnce(uid, forged, address));
    // Three free failures (LOGIN_FREE_FAILURES_PER_ACCOUNT_IP), the fourth starts a wait.
    expect(statuses).toEqual([401, 401, 401, 401]);
    const refused = await sendAssertion(valid.uid, valid.body, address);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(refused.text).toMatch(/Too many failed sign-in attempts\. Try again in \d+ seconds\./);
    // Not verified: the signature counter and last use are as they were.
    expect(await storedPasskey()).toEqual(before);
    // One throttle: the password from that address waits too.
    const password = await page.request.post(`${server.issuer}/interaction/${uid}/login`, { headers: headers(address), form: { username: user.username, password: user.password }, maxRedirects: 0 });
    expect(password.status()).toBe(429);
    const log = server.logs.join('');
    expect(log).toContain('"event":"passkey_sign_in_throttled"');
    expect(log).toContain('"reason":"not_verified"');
  });

  it('counts made-up credentials against the address', async () => {
    const address = '203.0.113.20';
    const valid = await holdAssertion(address);
    const uid = await openInteraction(address);
    const statuses = [];
    // Each a different credential: only the address's count (LOGIN_FREE_FAILURES_PER_IP) ties them together.
    for (let attempt = 0; attempt < 5; attempt += 1) statuses.push(await failOnce(uid, unknownCredential(valid), address));
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expect((await sendAssertion(valid.uid, valid.body, address)).status).toBe(429);
    expect(server.logs.join('')).toContain('"reason":"unknown_credential"');
  });

  it('forgives this address’s failures on a passkey sign-in, like a password sign-in', async () => {
    const address = '203.0.113.30';
    const first = await holdAssertion(address);
    const second = await holdAssertion(address);
    const forged = badSignature(first);
    const uid = await openInteraction(address);
    expect(await failOnce(uid, forged, address)).toBe(401);
    expect((await sendAssertion(first.uid, first.body, address)).status).toBe(303);
    // Without the reset the second of these would start a wait and the third be refused.
    const statuses = [];
    for (let attempt = 0; attempt < 4; attempt += 1) statuses.push(await failOnce(uid, forged, address));
    expect(statuses).toEqual([401, 401, 401, 401]);
    expect((await sendAssertion(second.uid, second.body, address)).status).toBe(429);
  });

  it('does not slow the same passkey down from another address', async () => {
    const address = '198.51.100.40';
    const valid = await holdAssertion(address);
    const answer = await sendAssertion(valid.uid, valid.body, address);
    expect(answer.status).toBe(303);
    expect((await storedPasskey()).lastUsedAt).toBeGreaterThan(0);
  });
});

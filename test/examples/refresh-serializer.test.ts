/**
 * The BFF's refresh serializer (examples/spa/bff/refresh-serializer.ts): one refresh at a time per
 * browser session, the last rotation handed to a tab still holding the token it replaced — and,
 * once the session is signed out, nothing: not a refresh that was still running, not a result
 * remembered for a replayed cookie.
 */
import { describe, expect, it } from 'vitest';
import { RefreshSerializer, SessionEnded } from '../../examples/spa/bff/refresh-serializer.js';

describe('RefreshSerializer', () => {
  it('hands the rotation to a second tab presenting the token it replaced', async () => {
    const serializer = new RefreshSerializer<string>();
    let calls = 0;
    const perform = async () => `access-${(calls += 1)}`;
    const [first, second] = await Promise.all([serializer.refresh('s', 'rt-1', perform), serializer.refresh('s', 'rt-1', perform)]);
    expect([first, second]).toEqual(['access-1', 'access-1']);
    expect(calls).toBe(1);
  });

  it('hands out nothing after sign-out, even from a refresh that was running', async () => {
    const serializer = new RefreshSerializer<string>();
    let answer: (value: string) => void = () => undefined;
    const running = serializer.refresh('s', 'rt-1', () => new Promise<string>((resolve) => (answer = resolve)));
    // Sign-out waits for the running refresh, then forgets the session; here the answer comes
    // after the forget, as when a refresh reaches Gatehouse just after sign-out passed settle().
    serializer.forget('s');
    answer('access-after-sign-out');
    await expect(running).rejects.toBeInstanceOf(SessionEnded);
    // A tab replaying the cookie from before sign-out gets no remembered result either.
    let performed = false;
    await expect(serializer.refresh('s', 'rt-1', async () => ((performed = true), 'fresh'))).rejects.toBeInstanceOf(SessionEnded);
    expect(performed).toBe(false);
  });

  it('keeps other sessions working', async () => {
    const serializer = new RefreshSerializer<string>();
    serializer.forget('a');
    expect(await serializer.refresh('b', 'rt-b', async () => 'access-b')).toBe('access-b');
  });
});

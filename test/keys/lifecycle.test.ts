import { describe, expect, it } from 'vitest';
import { classifyKeys, usableKeys, type KeyTimeline } from '../../src/keys/lifecycle.js';

const t = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes));
const key = (kid: string, activatesAt: number, purpose: 'token' | 'cookie' = 'token', alg = 'ES256'): KeyTimeline => ({
  kid,
  purpose,
  alg,
  createdAt: t(activatesAt - 1),
  activatesAt: t(activatesAt),
});
const retention = () => 30 * 60;
const states = (keys: KeyTimeline[], now: number) =>
  Object.fromEntries(classifyKeys(keys, t(now), retention).map((entry) => [entry.key.kid, entry.state]));

describe('JWT-2 key lifecycle', () => {
  it('publishes a rotated key before it signs', () => {
    expect(states([key('old', 0), key('new', 60)], 30)).toEqual({ old: 'active', new: 'pending' });
  });

  it('switches the signer at activation and keeps the old key published for the retention period', () => {
    expect(states([key('old', 0), key('new', 60)], 61)).toEqual({ old: 'retired', new: 'active' });
    expect(states([key('old', 0), key('new', 60)], 89)).toEqual({ old: 'retired', new: 'active' });
    expect(states([key('old', 0), key('new', 60)], 91)).toEqual({ old: 'expired', new: 'active' });
  });

  it('treats each purpose and algorithm separately', () => {
    expect(states([key('es', 0), key('rs', 0, 'token', 'RS256'), key('cookie', 0, 'cookie', 'HS256')], 1)).toEqual({
      es: 'active',
      rs: 'active',
      cookie: 'active',
    });
  });

  it('orders usable keys with the active signer first and drops expired ones', () => {
    const keys = [key('oldest', 0), key('old', 60), key('current', 120), key('next', 240)];
    const usable = usableKeys(classifyKeys(keys, t(130), retention)).map((entry) => entry.key.kid);
    expect(usable).toEqual(['current', 'next', 'old']);
  });
});

/**
 * Key lifecycle as a pure function of timestamps (JWT-2): a key is `pending` (published, not
 * yet signing) until it activates, `active` while it is the newest activated key of its purpose
 * and algorithm, then `retired` (published, verifying only) until everything it may have signed
 * has expired, then `expired` (no longer published). No state column means replicas with the
 * same clock always agree, and rotation needs no coordinator.
 */
export type KeyPurpose = 'token' | 'cookie';
export type KeyState = 'pending' | 'active' | 'retired' | 'expired';

export interface KeyTimeline {
  readonly kid: string;
  readonly purpose: KeyPurpose;
  readonly alg: string;
  readonly createdAt: Date;
  readonly activatesAt: Date;
}

export interface ClassifiedKey<K extends KeyTimeline> {
  readonly key: K;
  readonly state: KeyState;
  /** When a superseded key leaves the JWKS; undefined while it is pending or active. */
  readonly publishedUntil: Date | undefined;
}

function byActivation(a: KeyTimeline, b: KeyTimeline): number {
  return (
    a.activatesAt.getTime() - b.activatesAt.getTime() ||
    a.createdAt.getTime() - b.createdAt.getTime() ||
    a.kid.localeCompare(b.kid)
  );
}

/**
 * Classifies keys at `now`. `retentionSeconds(purpose)` is how long a superseded key must still
 * verify: the longest lifetime of anything it signed.
 */
export function classifyKeys<K extends KeyTimeline>(
  keys: readonly K[],
  now: Date,
  retentionSeconds: (purpose: KeyPurpose) => number,
): ClassifiedKey<K>[] {
  const groups = new Map<string, K[]>();
  for (const key of keys) {
    const group = `${key.purpose}\u0000${key.alg}`;
    groups.set(group, [...(groups.get(group) ?? []), key]);
  }
  const result: ClassifiedKey<K>[] = [];
  for (const group of groups.values()) {
    const ordered = [...group].sort(byActivation);
    const activated = ordered.filter((key) => key.activatesAt.getTime() <= now.getTime());
    activated.forEach((key, index) => {
      const successor = activated[index + 1];
      if (!successor) {
        result.push({ key, state: 'active', publishedUntil: undefined });
        return;
      }
      const publishedUntil = new Date(successor.activatesAt.getTime() + retentionSeconds(key.purpose) * 1000);
      const state = publishedUntil.getTime() > now.getTime() ? 'retired' : 'expired';
      result.push({ key, state, publishedUntil });
    });
    for (const key of ordered.slice(activated.length)) {
      result.push({ key, state: 'pending', publishedUntil: undefined });
    }
  }
  return result;
}

const signingOrder: Record<KeyState, number> = { active: 0, pending: 1, retired: 2, expired: 3 };

/**
 * The keys a process should load, in the order signers pick them: oidc-provider and keygrip
 * sign with the first matching key, so the active key of each algorithm comes first.
 */
export function usableKeys<K extends KeyTimeline>(classified: readonly ClassifiedKey<K>[]): ClassifiedKey<K>[] {
  return classified
    .filter((entry) => entry.state !== 'expired')
    .sort((a, b) => signingOrder[a.state] - signingOrder[b.state] || byActivation(b.key, a.key));
}

/**
 * SigningKeyStore: token signing keys and cookie keys in the `keys` table, private parts sealed
 * under the master secret. Enforces: keys are created once for the whole fleet (advisory lock),
 * private members never leave this module except as the keyring handed to the provider.
 */
import type { Knex } from 'knex';
import type { JWK } from 'jose';
import type { MasterSecret } from '../security/master-secret.js';
import {
  COOKIE_KEY_ALG,
  TOKEN_SIGNING_ALGS,
  generateCookieSecret,
  generateSigningKey,
} from './generate.js';
import { classifyKeys, usableKeys, type ClassifiedKey, type KeyPurpose, type KeyTimeline } from './lifecycle.js';

const KEY_CREATION_LOCK = 0x6b65_7973;

interface KeyRow {
  kid: string;
  purpose: KeyPurpose;
  alg: string;
  public_jwk: JWK | null;
  sealed_material: string;
  created_at: Date;
  activates_at: Date;
}

export interface KeyInfo extends KeyTimeline {
  readonly publicJwk: JWK | undefined;
}

export interface Keyring {
  /** Private JWKs for oidc-provider, active signer of each algorithm first. */
  readonly jwks: JWK[];
  /** Cookie signing secrets, the active one first. */
  readonly cookieKeys: string[];
  /** Changes whenever which keys are loaded, or which one signs, changes. */
  readonly fingerprint: string;
}

export type Retention = (purpose: KeyPurpose) => number;

function toInfo(row: KeyRow): KeyInfo {
  return {
    kid: row.kid,
    purpose: row.purpose,
    alg: row.alg,
    createdAt: new Date(row.created_at),
    activatesAt: new Date(row.activates_at),
    publicJwk: row.public_jwk ?? undefined,
  };
}

export class SigningKeyStore {
  constructor(
    private readonly knex: Knex,
    private readonly secret: MasterSecret,
  ) {}

  private sealContext(kid: string): string {
    return `keys/${kid}`;
  }

  private async insertGeneration(trx: Knex, activatesAt: Date, purposes: readonly KeyPurpose[]): Promise<string[]> {
    const rows: KeyRow[] = [];
    if (purposes.includes('token')) {
      for (const alg of TOKEN_SIGNING_ALGS) {
        const key = await generateSigningKey(alg);
        rows.push({
          kid: key.kid,
          purpose: 'token',
          alg,
          public_jwk: key.publicJwk,
          sealed_material: this.secret.encrypt(JSON.stringify(key.privateJwk), this.sealContext(key.kid)),
          created_at: new Date(),
          activates_at: activatesAt,
        });
      }
    }
    if (purposes.includes('cookie')) {
      const cookie = generateCookieSecret();
      rows.push({
        kid: cookie.kid,
        purpose: 'cookie',
        alg: COOKIE_KEY_ALG,
        public_jwk: null,
        sealed_material: this.secret.encrypt(cookie.secret, this.sealContext(cookie.kid)),
        created_at: new Date(),
        activates_at: activatesAt,
      });
    }
    if (rows.length) {
      await trx('keys').insert(rows.map((row) => ({ ...row, public_jwk: row.public_jwk ? JSON.stringify(row.public_jwk) : null })));
    }
    return rows.map((row) => row.kid);
  }

  /** First start: create keys that sign immediately, once for the whole fleet. */
  /** Whether any key is stored (sealed under some master secret). */
  static async anyStored(knex: Knex): Promise<boolean> {
    return Boolean(await knex('keys').first('kid'));
  }

  /**
   * Whether this store's master secret opens the stored keys (undefined: none stored). A wrong
   * secret is otherwise only noticed as "unable to authenticate data" deep inside start-up.
   */
  async opensStoredKeys(): Promise<boolean | undefined> {
    const row = (await this.knex<KeyRow>('keys').select('kid', 'sealed_material').orderBy('created_at', 'desc').first()) as
      | Pick<KeyRow, 'kid' | 'sealed_material'>
      | undefined;
    if (!row) return undefined;
    try {
      this.secret.decrypt(row.sealed_material, this.sealContext(row.kid));
      return true;
    } catch {
      return false;
    }
  }

  async ensureInitialKeys(): Promise<string[]> {
    return this.knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(?)', [KEY_CREATION_LOCK]);
      const present = await trx('keys').distinct('purpose', 'alg');
      const has = (purpose: KeyPurpose, alg: string) => present.some((row) => row.purpose === purpose && row.alg === alg);
      const missing: KeyPurpose[] = [];
      if (TOKEN_SIGNING_ALGS.some((alg) => !has('token', alg))) missing.push('token');
      if (!has('cookie', COOKIE_KEY_ALG)) missing.push('cookie');
      if (!missing.length) return [];
      return this.insertGeneration(trx, new Date(), missing);
    });
  }

  /** Publishes a new generation now; it becomes the signer after `publishDelaySeconds`. */
  async rotate(publishDelaySeconds: number, now = new Date()): Promise<{ kids: string[]; activatesAt: Date }> {
    const activatesAt = new Date(now.getTime() + publishDelaySeconds * 1000);
    const kids = await this.knex.transaction((trx) => this.insertGeneration(trx, activatesAt, ['token', 'cookie']));
    return { kids, activatesAt };
  }

  /**
   * The automatic schedule (JWT-2): publishes a new generation when the newest token key became
   * active more than `rotationSeconds` ago and none is already waiting. Once across replicas.
   */
  async rotateIfDue(rotationSeconds: number, publishDelaySeconds: number, now = new Date()): Promise<string[]> {
    return this.knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(?)', [KEY_CREATION_LOCK]);
      const newest = (await trx('keys').where('purpose', 'token').max('activates_at as latest').first()) as { latest: Date | null } | undefined;
      if (!newest?.latest) return [];
      const latest = new Date(newest.latest);
      // A pending generation (activation still ahead) means a rotation is already under way.
      if (latest.getTime() > now.getTime()) return [];
      if (now.getTime() - latest.getTime() < rotationSeconds * 1000) return [];
      return this.insertGeneration(trx, new Date(now.getTime() + publishDelaySeconds * 1000), ['token', 'cookie']);
    });
  }

  async list(now: Date, retention: Retention): Promise<ClassifiedKey<KeyInfo>[]> {
    const rows = (await this.knex<KeyRow>('keys').select('kid', 'purpose', 'alg', 'public_jwk', 'created_at', 'activates_at')) as KeyRow[];
    return classifyKeys(rows.map(toInfo), now, retention);
  }

  async loadKeyring(now: Date, retention: Retention): Promise<Keyring> {
    const rows = (await this.knex<KeyRow>('keys').select('*')) as KeyRow[];
    const byKid = new Map(rows.map((row) => [row.kid, row]));
    const usable = usableKeys(classifyKeys(rows.map(toInfo), now, retention));
    const open = (kid: string) => {
      const row = byKid.get(kid);
      if (!row) throw new Error(`key ${kid} vanished while loading`);
      return this.secret.decrypt(row.sealed_material, this.sealContext(kid));
    };
    const jwks = usable.filter((entry) => entry.key.purpose === 'token').map((entry) => JSON.parse(open(entry.key.kid)) as JWK);
    const cookieKeys = usable.filter((entry) => entry.key.purpose === 'cookie').map((entry) => open(entry.key.kid));
    if (!jwks.length || !cookieKeys.length) throw new Error('no usable keys: run migrations and start the server once to create them');
    // ID tokens default to RS256 (FLOW-6) and APIs may choose it: every generation has one.
    const missing = TOKEN_SIGNING_ALGS.filter((alg) => !jwks.some((jwk) => jwk.alg === alg));
    if (missing.length) throw new Error(`no usable ${missing.join(' and ')} signing key: start the server once (it creates missing keys) or run keys rotate`);
    const fingerprint = usable.map((entry) => `${entry.key.kid}:${entry.state}`).join(',');
    return { jwks, cookieKeys, fingerprint };
  }

  /** Removes keys that are past their publication window. */
  async deleteExpired(now: Date, retention: Retention): Promise<number> {
    const expired = (await this.list(now, retention)).filter((entry) => entry.state === 'expired');
    if (!expired.length) return 0;
    const deleted = await this.knex('keys').whereIn('kid', expired.map((entry) => entry.key.kid)).delete().returning('kid');
    return deleted.length;
  }
}

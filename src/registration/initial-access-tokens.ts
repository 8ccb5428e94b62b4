/**
 * Initial access tokens (RFC 7591 §3, FLOW-11): issued by the operator (CLI, admin API) with an
 * expiry and a number of uses, listable and revocable. Enforces: only a keyed digest of a token
 * is stored; a registration spends one use inside the transaction that stores the client, by a
 * conditional update, so replicas racing for the last use cannot both register, and a refused
 * registration spends nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { z } from 'zod';
import { isUnstorableText } from '../adapter/records.js';
import type { MasterSecret } from '../security/master-secret.js';

export const initialAccessTokenRequest = z.strictObject({
  expires_in: z
    .number()
    .int('expires_in must be a whole number of seconds')
    .min(60, 'expires_in must be at least 60 seconds')
    .max(365 * 24 * 3600, 'expires_in must be at most a year')
    .default(24 * 3600),
  max_uses: z.number().int('max_uses must be a whole number').min(1, 'max_uses must be at least 1').max(100_000).default(1),
  description: z.string().min(1).max(200).optional(),
});
export type InitialAccessTokenRequest = z.input<typeof initialAccessTokenRequest>;

export type InitialAccessTokenState = 'active' | 'expired' | 'used up' | 'revoked';

export interface InitialAccessTokenInfo {
  readonly id: string;
  readonly description: string | undefined;
  readonly maxUses: number;
  readonly uses: number;
  readonly expiresAt: Date;
  readonly createdAt: Date;
  readonly revokedAt: Date | undefined;
  readonly state: InitialAccessTokenState;
}

export interface IssuedInitialAccessToken extends InitialAccessTokenInfo {
  /** The bearer value: shown once, never stored. */
  readonly token: string;
}

interface TokenRow {
  id: string;
  token_digest: string;
  description: string | null;
  max_uses: number;
  uses: number;
  expires_at: Date;
  created_at: Date;
  revoked_at: Date | null;
}

function describe(row: TokenRow, now = Date.now()): InitialAccessTokenInfo {
  const expiresAt = new Date(row.expires_at);
  const state: InitialAccessTokenState = row.revoked_at
    ? 'revoked'
    : expiresAt.getTime() <= now
      ? 'expired'
      : row.uses >= row.max_uses
        ? 'used up'
        : 'active';
  return {
    id: row.id,
    description: row.description ?? undefined,
    maxUses: row.max_uses,
    uses: row.uses,
    expiresAt,
    createdAt: new Date(row.created_at),
    revokedAt: row.revoked_at ? new Date(row.revoked_at) : undefined,
    state,
  };
}

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

export class InitialAccessTokenStore {
  constructor(
    private readonly knex: Knex,
    private readonly secret: MasterSecret,
  ) {}

  private digest(token: string): string {
    return this.secret.mac('initial-access-token', token);
  }

  private usable(q: Knex.QueryBuilder, token: string): Knex.QueryBuilder {
    return q
      .where('token_digest', this.digest(token))
      .whereNull('revoked_at')
      .andWhere('expires_at', '>', this.knex.fn.now())
      .andWhereRaw('uses < max_uses');
  }

  async issue(request: z.output<typeof initialAccessTokenRequest>): Promise<IssuedInitialAccessToken> {
    const token = randomBytes(32).toString('base64url');
    const [row] = (await this.knex('initial_access_tokens')
      .insert({
        id: `iat-${randomBytes(8).toString('hex')}`,
        token_digest: this.digest(token),
        description: request.description ?? null,
        max_uses: request.max_uses,
        expires_at: new Date(Date.now() + request.expires_in * 1000),
      })
      .returning('*')) as TokenRow[];
    if (!row) throw new Error('the initial access token was not stored');
    return { ...describe(row), token };
  }

  async list(): Promise<InitialAccessTokenInfo[]> {
    const rows = (await this.knex<TokenRow>('initial_access_tokens').select('*').orderBy('created_at', 'desc')) as TokenRow[];
    const now = Date.now();
    return rows.map((row) => describe(row, now));
  }

  /** Revokes a token at once; false if there is no such (unrevoked) token. */
  async revoke(id: string): Promise<boolean> {
    const revoked = await this.knex('initial_access_tokens').where('id', id).whereNull('revoked_at').update({ revoked_at: this.knex.fn.now() }).returning('id');
    return revoked.length === 1;
  }

  /** Spends one use of `token` inside `trx`; the token's id, or undefined if it is no longer usable. */
  async spendUse(trx: Knex.Transaction, token: string): Promise<string | undefined> {
    // A conditional update: concurrent registrations with the last use queue on the row lock and
    // re-check the condition, so exactly one of them succeeds.
    const spent = (await this.usable(trx('initial_access_tokens'), token).update({ uses: trx.raw('uses + 1') }).returning('id')) as { id: string }[];
    return spent[0]?.id;
  }

  /** The engine's InitialAccessToken model over this table: it only ever looks tokens up. */
  engineAdapter(): Adapter {
    return {
      find: async (token: string): Promise<AdapterPayload | undefined> => {
        if (token.length > 200 || isUnstorableText(token)) return undefined;
        const row = (await this.usable(this.knex('initial_access_tokens').select('*'), token).first()) as TokenRow | undefined;
        if (!row) return undefined;
        return { jti: token, kind: 'InitialAccessToken', iat: epoch(new Date(row.created_at)), exp: epoch(new Date(row.expires_at)) } as AdapterPayload;
      },
      upsert: async () => {
        throw new Error('initial access tokens are issued by the CLI and admin API');
      },
      destroy: async () => undefined,
      findByUid: async () => undefined,
      findByUserCode: async () => undefined,
      consume: async () => undefined,
      revokeByGrantId: async () => undefined,
    };
  }
}

/**
 * AccountStore: end-users in `accounts`. Enforces: argon2id hashes only, case-insensitive
 * unique usernames, disabled accounts cannot sign in or be found by the provider.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { ChangeFeed } from '../db/change-feed.js';
import { ValidationError } from '../validation.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { passwordProblems, type NewAccount } from './schema.js';
import { STORED_CLAIM_NAMES, type ClaimChanges, type StoredClaims } from './claims.js';

export interface Account {
  readonly id: string;
  readonly username: string;
  readonly email: string | undefined;
  readonly emailVerified: boolean;
  readonly name: string | undefined;
  readonly disabled: boolean;
  readonly createdAt: Date;
  /** The other OpenID Connect standard claims (given_name … address, updated_at). */
  readonly claims: StoredClaims;
}

interface AccountRow {
  id: string;
  username: string;
  username_normalized: string;
  password_hash: string | null;
  email: string | null;
  email_verified: boolean;
  name: string | null;
  disabled: boolean;
  created_at: Date;
  claims: StoredClaims | string | null;
}

/** The current password given for a change was wrong (counted by the login throttle, API-2). */
export class WrongPasswordError extends ValidationError {
  constructor() {
    super(['The current password is not right.']);
    this.name = 'WrongPasswordError';
  }
}

const normalize = (username: string) => username.trim().toLowerCase();
// PostgreSQL text cannot hold U+0000: such a name matches no account (and must not reach SQL).
const searchable = (username: string) => !username.includes('\u0000');

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    username: row.username,
    email: row.email ?? undefined,
    emailVerified: row.email_verified,
    name: row.name ?? undefined,
    disabled: row.disabled,
    createdAt: new Date(row.created_at),
    claims: typeof row.claims === 'string' ? (JSON.parse(row.claims) as StoredClaims) : (row.claims ?? {}),
  };
}

const nowInSeconds = () => Math.floor(Date.now() / 1000);

/** The stored-claims part of `input` (dropping nulls); updated_at is now unless given. */
function storedClaimsOf(input: Partial<Record<string, unknown>>, base: StoredClaims = {}): StoredClaims {
  const claims: Record<string, unknown> = { ...base };
  for (const name of STORED_CLAIM_NAMES) {
    if (!(name in input) || input[name] === undefined) continue;
    if (input[name] === null) delete claims[name];
    else claims[name] = input[name];
  }
  claims['updated_at'] = typeof input['updated_at'] === 'number' ? input['updated_at'] : nowInSeconds();
  return claims as StoredClaims;
}

/** The OpenID Connect claims of `account`, for the provider to filter by scope and request. */
export function standardClaimsOf(account: Account): Record<string, unknown> {
  return {
    sub: account.id,
    preferred_username: account.username,
    ...(account.name ? { name: account.name } : {}),
    ...(account.email ? { email: account.email, email_verified: account.emailVerified } : {}),
    ...account.claims,
    ...(account.claims.phone_number ? { phone_number_verified: account.claims.phone_number_verified ?? false } : {}),
  };
}

// Accounts are read on every userinfo and refresh request; changes are announced to every
// process, and the TTL only bounds a missed notice.
const CACHE_TTL_MS = 60_000;
const CACHE_MAX_ENTRIES = 10_000;

export class AccountStore {
  readonly #byId = new Map<string, { account: Account | undefined; at: number }>();
  #generation = 0;

  constructor(
    private readonly knex: Knex,
    private readonly feed?: ChangeFeed,
  ) {
    feed?.subscribe((topic, key) => {
      if (topic !== '*' && topic !== 'accounts') return;
      this.#generation += 1;
      if (topic === '*' || !key) this.#byId.clear();
      else this.#byId.delete(key);
    });
  }

  private async changed(id: string): Promise<void> {
    this.#generation += 1;
    this.#byId.delete(id);
    await this.feed?.publish('accounts', id);
  }

  async findById(id: string): Promise<Account | undefined> {
    const cached = this.#byId.get(id);
    if (cached && Date.now() - cached.at < CACHE_TTL_MS) return cached.account;
    const generation = this.#generation;
    const row = (await this.knex<AccountRow>('accounts').where('id', id).first()) as AccountRow | undefined;
    const account = row ? toAccount(row) : undefined;
    if (generation === this.#generation) {
      this.#byId.set(id, { account, at: Date.now() });
      if (this.#byId.size > CACHE_MAX_ENTRIES) this.#byId.delete(this.#byId.keys().next().value as string);
    }
    return account;
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    if (!searchable(username)) return undefined;
    const row = (await this.knex<AccountRow>('accounts').where('username_normalized', normalize(username)).first()) as
      | AccountRow
      | undefined;
    return row ? toAccount(row) : undefined;
  }

  /** The account if the credentials are right and it is enabled; constant work otherwise. */
  async authenticate(username: string, password: string): Promise<Account | undefined> {
    const row = !searchable(username) ? undefined : (await this.knex<AccountRow>('accounts').where('username_normalized', normalize(username)).first()) as
      | AccountRow
      | undefined;
    const ok = await verifyPassword(row?.password_hash, password);
    if (!ok || !row || row.disabled) return undefined;
    return toAccount(row);
  }

  async create(input: NewAccount, password: string): Promise<Account> {
    const problems = passwordProblems(password, input.username);
    if (problems.length) throw new ValidationError(problems);
    if (await this.findByUsername(input.username)) throw new ValidationError([`username "${input.username}" is taken`]);
    const row = {
      id: randomUUID(),
      username: input.username,
      username_normalized: normalize(input.username),
      password_hash: await hashPassword(password),
      email: input.email ?? null,
      email_verified: input.email_verified ?? false,
      name: input.name ?? null,
      password_changed_at: new Date(),
      claims: JSON.stringify(storedClaimsOf(input)),
    };
    try {
      await this.knex('accounts').insert(row);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new ValidationError([`username "${input.username}" is taken`]);
      throw error;
    }
    await this.changed(row.id);
    const created = await this.findById(row.id);
    if (!created) throw new Error('account vanished after insert');
    return created;
  }

  async setPassword(username: string, password: string): Promise<Account> {
    const account = await this.findByUsername(username);
    if (!account) throw new ValidationError([`no account "${username}"`]);
    const problems = passwordProblems(password, account.username);
    if (problems.length) throw new ValidationError(problems);
    await this.knex('accounts')
      .where('id', account.id)
      .update({ password_hash: await hashPassword(password), password_changed_at: this.knex.fn.now(), updated_at: this.knex.fn.now() });
    await this.changed(account.id);
    return account;
  }

  /** The user's own change: the current password must be right, the new one must pass the rules. */
  async changePassword(accountId: string, currentPassword: string, newPassword: string): Promise<void> {
    const row = (await this.knex<AccountRow>('accounts').where('id', accountId).first()) as AccountRow | undefined;
    if (!row || !(await verifyPassword(row.password_hash, currentPassword))) throw new WrongPasswordError();
    const problems = passwordProblems(newPassword, row.username);
    if (newPassword === currentPassword) problems.push('The new password must differ from the current one.');
    if (problems.length) throw new ValidationError(problems);
    await this.knex('accounts')
      .where('id', accountId)
      .update({ password_hash: await hashPassword(newPassword), password_changed_at: this.knex.fn.now(), updated_at: this.knex.fn.now() });
    await this.changed(accountId);
  }

  /**
   * Changes an account's standard claims (CLI `users update`, admin API). A changed e-mail
   * address or phone number is unverified unless the change says otherwise.
   */
  async updateClaims(username: string, changes: ClaimChanges): Promise<Account> {
    const account = await this.findByUsername(username);
    if (!account) throw new ValidationError([`no account "${username}"`]);
    const claims = storedClaimsOf(changes, account.claims);
    if ('phone_number' in changes && changes.phone_number !== account.claims.phone_number && changes.phone_number_verified === undefined) {
      delete claims.phone_number_verified;
    }
    if (!claims.phone_number) delete claims.phone_number_verified;
    const columns: Record<string, unknown> = {};
    if (changes.name !== undefined) columns['name'] = changes.name;
    if (changes.email !== undefined) columns['email'] = changes.email;
    if (changes.email_verified !== undefined) columns['email_verified'] = changes.email_verified ?? false;
    else if (changes.email !== undefined && changes.email !== (account.email ?? null)) columns['email_verified'] = false;
    await this.knex('accounts')
      .where('id', account.id)
      .update({ ...columns, claims: JSON.stringify(claims), updated_at: this.knex.fn.now() });
    await this.changed(account.id);
    const updated = await this.findById(account.id);
    if (!updated) throw new Error('account vanished after update');
    return updated;
  }

  async setDisabled(accountId: string, disabled: boolean): Promise<void> {
    await this.knex('accounts').where('id', accountId).update({ disabled, updated_at: this.knex.fn.now() });
    await this.changed(accountId);
  }

  async list(): Promise<Account[]> {
    const rows = (await this.knex<AccountRow>('accounts').select('*').orderBy('username_normalized')) as AccountRow[];
    return rows.map(toAccount);
  }
}

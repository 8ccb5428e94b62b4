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

export interface Account {
  readonly id: string;
  readonly username: string;
  readonly email: string | undefined;
  readonly emailVerified: boolean;
  readonly name: string | undefined;
  readonly disabled: boolean;
  readonly createdAt: Date;
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

  async setDisabled(accountId: string, disabled: boolean): Promise<void> {
    await this.knex('accounts').where('id', accountId).update({ disabled, updated_at: this.knex.fn.now() });
    await this.changed(accountId);
  }

  async list(): Promise<Account[]> {
    const rows = (await this.knex<AccountRow>('accounts').select('*').orderBy('username_normalized')) as AccountRow[];
    return rows.map(toAccount);
  }
}

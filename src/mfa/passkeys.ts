/**
 * PasskeyStore: an account's WebAuthn credentials (MFA-1). Enforces: a credential id belongs to
 * one account; names are the user's own; the signature counter and backup state are updated
 * after each verified use by one conditional UPDATE on the counter the verification started
 * from, so two uses racing with one assertion cannot both count.
 */
import type { Knex } from 'knex';

export type DeviceType = 'singleDevice' | 'multiDevice';

export interface Passkey {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  readonly publicKey: Uint8Array<ArrayBuffer>;
  readonly counter: number;
  readonly transports: readonly string[];
  readonly deviceType: DeviceType;
  readonly backedUp: boolean;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | undefined;
}

interface PasskeyRow {
  id: string;
  account_id: string;
  name: string;
  public_key: string;
  counter: string | number;
  transports: string[] | string;
  device_type: DeviceType;
  backed_up: boolean;
  created_at: Date;
  last_used_at: Date | null;
}

function toPasskey(row: PasskeyRow): Passkey {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    publicKey: new Uint8Array(Buffer.from(row.public_key, 'base64url')),
    counter: Number(row.counter),
    transports: typeof row.transports === 'string' ? (JSON.parse(row.transports) as string[]) : row.transports,
    deviceType: row.device_type,
    backedUp: row.backed_up,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : undefined,
  };
}

export type NewPasskey = Omit<Passkey, 'createdAt' | 'lastUsedAt'>;

export class PasskeyStore {
  constructor(private readonly knex: Knex) {}

  async list(accountId: string): Promise<Passkey[]> {
    const rows = (await this.knex('passkeys').where('account_id', accountId).orderBy('created_at')) as PasskeyRow[];
    return rows.map(toPasskey);
  }

  async find(id: string): Promise<Passkey | undefined> {
    const row = (await this.knex('passkeys').where('id', id).first()) as PasskeyRow | undefined;
    return row ? toPasskey(row) : undefined;
  }

  /** Stores a verified registration; false if that credential is already registered. */
  async add(passkey: NewPasskey): Promise<boolean> {
    const inserted = await this.knex('passkeys')
      .insert({
        id: passkey.id,
        account_id: passkey.accountId,
        name: passkey.name,
        public_key: Buffer.from(passkey.publicKey).toString('base64url'),
        counter: passkey.counter,
        transports: JSON.stringify(passkey.transports),
        device_type: passkey.deviceType,
        backed_up: passkey.backedUp,
      })
      .onConflict('id')
      .ignore()
      .returning('id');
    return inserted.length === 1;
  }

  /** Records a verified use, if the counter is still the one the verification started from. */
  async recordUse(passkey: Passkey, newCounter: number, backedUp: boolean): Promise<boolean> {
    const updated = await this.knex('passkeys')
      .where({ id: passkey.id, counter: passkey.counter })
      .update({ counter: newCounter, backed_up: backedUp, last_used_at: this.knex.fn.now() })
      .returning('id');
    return updated.length === 1;
  }

  async rename(accountId: string, id: string, name: string): Promise<boolean> {
    const updated = await this.knex('passkeys').where({ account_id: accountId, id }).update({ name }).returning('id');
    return updated.length === 1;
  }

  async remove(accountId: string, id: string): Promise<boolean> {
    const removed = await this.knex('passkeys').where({ account_id: accountId, id }).delete().returning('id');
    return removed.length === 1;
  }

  async removeAll(accountId: string): Promise<number> {
    const removed = await this.knex('passkeys').where({ account_id: accountId }).delete().returning('id');
    return removed.length;
  }
}

/**
 * What a sign-in has proven so far, kept in the database between its pages (a password before
 * the second factor; later a WebAuthn challenge). Enforces: state is keyed by the engine's
 * interaction uid (only the browser holding that interaction's cookie reaches it, and the
 * routes check that first), lives at most `ttl` seconds, and `take` hands it out once — two
 * replicas racing to use it get it once between them.
 */
import type { Knex } from 'knex';

export interface InteractionState<P> {
  readonly accountId: string | undefined;
  readonly payload: P;
}

interface StateRow {
  account_id: string | null;
  payload: unknown;
}

function toState<P>(row: StateRow): InteractionState<P> {
  return { accountId: row.account_id ?? undefined, payload: (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as P };
}

export class InteractionStates {
  constructor(private readonly knex: Knex) {}

  async put(uid: string, purpose: string, accountId: string | undefined, payload: object, ttlSeconds: number): Promise<void> {
    await this.knex('interaction_states').where('expires_at', '<', this.knex.fn.now()).delete();
    await this.knex('interaction_states')
      .insert({
        interaction_uid: uid,
        purpose,
        account_id: accountId ?? null,
        payload: JSON.stringify(payload),
        expires_at: new Date(Date.now() + ttlSeconds * 1000),
      })
      .onConflict(['interaction_uid', 'purpose'])
      .merge();
  }

  async get<P>(uid: string, purpose: string): Promise<InteractionState<P> | undefined> {
    const row = (await this.knex('interaction_states')
      .select('account_id', 'payload')
      .where({ interaction_uid: uid, purpose })
      .andWhere('expires_at', '>', this.knex.fn.now())
      .first()) as StateRow | undefined;
    return row ? toState<P>(row) : undefined;
  }

  /** Removes and returns the state: single use. */
  async take<P>(uid: string, purpose: string): Promise<InteractionState<P> | undefined> {
    const rows = (await this.knex('interaction_states')
      .where({ interaction_uid: uid, purpose })
      .andWhere('expires_at', '>', this.knex.fn.now())
      .delete()
      .returning(['account_id', 'payload'])) as StateRow[];
    return rows[0] ? toState<P>(rows[0]) : undefined;
  }
}

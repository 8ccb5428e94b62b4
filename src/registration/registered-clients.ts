/**
 * The write path of clients that register themselves (FLOW-11): the engine validates a
 * registration (RFC 7591) or update (RFC 7592) its own way, then asks its Client adapter to store
 * the result, which lands here. Enforces, before anything is written: the registration policy
 * on the request as sent (src/registration/policy.ts); the stored metadata is the operator
 * schema's, exactly like an imported client's; a new secret is stored only as a keyed hash;
 * a registration with an initial access token spends one of its uses in the same transaction.
 */
import Provider, { errors, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import type { ClientWriter } from '../adapter/index.js';
import { requiresSecret } from '../clients/schema.js';
import type { ClientStore, RegisteredClientWrite } from '../clients/store.js';
import type { InitialAccessTokenStore } from './initial-access-tokens.js';
import { checkRegistration, type RegistrationPolicy } from './policy.js';

const engineDefaultsCache = new WeakMap<Provider, Readonly<Record<string, unknown>>>();

/** What the engine reports for a client that set nothing: the values a read hands back unasked. */
function engineDefaults(provider: Provider): Readonly<Record<string, unknown>> {
  let defaults = engineDefaultsCache.get(provider);
  if (!defaults) {
    // The engine's Client takes metadata in its constructor; its type definitions say otherwise.
    const EngineClient = provider.Client as unknown as new (metadata: Record<string, unknown>) => { metadata(): Record<string, unknown> };
    try {
      const probe = new EngineClient({ client_id: 'defaults-probe', token_endpoint_auth_method: 'none', redirect_uris: ['https://defaults.invalid/cb'] });
      const { client_id: _id, redirect_uris: _uris, token_endpoint_auth_method: _method, ...rest } = probe.metadata();
      defaults = rest;
    } catch {
      // Without known defaults, every field outside the schema is refused by name: stricter, never wrong.
      defaults = {};
    }
    engineDefaultsCache.set(provider, defaults);
  }
  return defaults;
}

export class ClientRegistrations implements ClientWriter {
  constructor(
    private readonly clients: ClientStore,
    private readonly initialAccessTokens: InitialAccessTokenStore,
    private readonly policy: RegistrationPolicy,
  ) {}

  async save(ctx: KoaContextWithOIDC, clientId: string, engineMetadata: AdapterPayload): Promise<void> {
    const route = ctx.oidc.route;
    if (route !== 'registration' && route !== 'client_update') throw new Error('clients are written only by the registration endpoints');
    const body = (ctx.oidc.body ?? {}) as Record<string, unknown>;
    const checked = checkRegistration(body, clientId, this.policy, engineDefaults(ctx.oidc.provider), {
      grant_types: engineMetadata['grant_types'],
      response_types: engineMetadata['response_types'],
    });
    if (!checked.ok) throw new errors.InvalidClientMetadata(checked.problems.join('; '));
    const created = route === 'registration';
    const issuedAt = typeof engineMetadata['client_id_issued_at'] === 'number' ? new Date(engineMetadata['client_id_issued_at'] * 1000) : new Date();
    const initialAccessToken = created ? ctx.oidc.entities.InitialAccessToken?.jti : undefined;
    const write: RegisteredClientWrite = {
      clientId,
      metadata: checked.metadata,
      secret: this.secretOf(checked.metadata, engineMetadata['client_secret'], created ? undefined : ctx.oidc.client?.clientSecret),
      issuedAt,
      ...(initialAccessToken
        ? {
            spendInitialAccessToken: async (trx) => {
              const id = await this.initialAccessTokens.spendUse(trx, initialAccessToken);
              if (!id) throw new errors.InvalidToken('the initial access token is expired, revoked or used up');
              return id;
            },
          }
        : {}),
    };
    await this.clients.saveRegistered(write, created);
  }

  /**
   * The engine hands over a fresh plaintext secret (registration, or an update that newly needs
   * one) or, on update, the stored hash it loaded (keep it).
   */
  private secretOf(metadata: Parameters<typeof requiresSecret>[0], engineSecret: unknown, storedHash: string | undefined): RegisteredClientWrite['secret'] {
    if (!requiresSecret(metadata)) return undefined;
    if (typeof engineSecret !== 'string' || !engineSecret) throw new Error('the engine issued no client secret for a confidential client');
    if (storedHash !== undefined && engineSecret === storedHash) return { keep: true };
    return { plaintext: engineSecret };
  }

  async remove(clientId: string): Promise<void> {
    await this.clients.delete(clientId, { registeredOnly: true });
  }
}

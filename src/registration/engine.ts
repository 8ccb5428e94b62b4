/**
 * How the engine's registration endpoints are set up (FLOW-11): `/reg` (RFC 7591) and
 * `/reg/:clientId` (RFC 7592) exist only when REGISTRATION is not `off` (so discovery advertises
 * `registration_endpoint` only then). Enforces: initial access tokens in `initial-access-token`
 * mode; a registration access token for every registered client, replaced on every update;
 * only clients that registered themselves can be read, updated or deleted there; a stored
 * secret hash is never sent back (the plaintext secret is shown once, at registration).
 */
import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';

type Features = NonNullable<Configuration['features']>;

export function registrationFeatures(registration: Config['registration']): Pick<Features, 'registration' | 'registrationManagement'> {
  const enabled = registration.mode !== 'off';
  return {
    registration: {
      enabled,
      initialAccessToken: registration.mode === 'initial-access-token',
      // 128 random bits, hex: no character a shell or CLI parser would read as an option or glob.
      idFactory: () => randomBytes(16).toString('hex'),
      secretFactory: () => randomBytes(32).toString('base64url'),
      issueRegistrationAccessToken: true,
    },
    registrationManagement: { enabled, rotateRegistrationAccessToken: true },
  };
}

/** Per provider instance: who may be managed at /reg/:clientId, what reads return, audit lines. */
export function prepareRegistration(provider: Provider, logger: Logger): void {
  // Clients from the database carry `client_id_issued_at` only when they registered themselves
  // (src/clients/store.ts); operator-imported and built-in clients answer 403 at /reg/:clientId.
  Object.defineProperty(provider.Client.prototype, 'noManage', {
    configurable: true,
    get(this: { clientIdIssuedAt?: number }) {
      return this.clientIdIssuedAt === undefined;
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if ((route === 'client' || route === 'client_update') && ctx.body && typeof ctx.body === 'object') {
      const body = ctx.body as Record<string, unknown>;
      // The engine echoes the client's `client_secret`, which in storage is the keyed hash.
      if (body['client_secret'] !== undefined && body['client_secret'] === ctx.oidc.client?.clientSecret) delete body['client_secret'];
    }
  });
  const audit = (event: string) => (ctx: KoaContextWithOIDC, client: { clientId: string }) =>
    logger.info({ event, clientId: client.clientId, initialAccessToken: ctx.oidc.entities.InitialAccessToken ? true : undefined, ip: ctx.ip }, 'client registration');
  provider.on('registration_create.success', audit('client_registered'));
  provider.on('registration_update.success', audit('registered_client_updated'));
  provider.on('registration_delete.success', audit('registered_client_deleted'));
}

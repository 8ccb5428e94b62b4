/**
 * The edge's part in RFC 7592 updates: a client may send its `client_secret` back with an update
 * (RFC 7592 §2.2: it must then match the current one). The engine compares it with what it
 * loaded — the stored keyed hash — so a correct secret would never match. Here a secret that
 * verifies against the stored hash is taken out of the body before the engine reads it (the
 * engine then keeps the current secret); any other value reaches the engine unchanged and is
 * refused there. The engine checks the registration access token before it compares secrets.
 */
import type { Middleware } from 'koa';
import type { ClientStore } from '../clients/store.js';
import { readFormBody, replaceBody } from '../security/request-body.js';

const CLIENT_CONFIGURATION = /^\/reg\/([^/]+)\/?$/i;

export function registrationUpdates(clients: Pick<ClientStore, 'find' | 'verifySecret'>): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'PUT') return next();
    const match = CLIENT_CONFIGURATION.exec(ctx.path);
    if (!match?.[1] || !ctx.is('application/json')) return next();
    // Over the limit (413) or unreadable (400): answered by the error boundary, as on every endpoint.
    const body = await readFormBody(ctx.req);
    replaceBody(ctx, (await withoutMatchingSecret(body, match[1], clients)) ?? body);
    return next();
  };
}

async function withoutMatchingSecret(body: Buffer, encodedId: string, clients: Pick<ClientStore, 'find' | 'verifySecret'>): Promise<Buffer | undefined> {
  let update: unknown;
  let clientId: string;
  try {
    update = JSON.parse(body.toString('utf8'));
    clientId = decodeURIComponent(encodedId);
  } catch {
    return undefined;
  }
  if (!update || typeof update !== 'object' || Array.isArray(update)) return undefined;
  const { client_secret: presented, ...rest } = update as Record<string, unknown>;
  if (typeof presented !== 'string') return undefined;
  const stored = (await clients.find(clientId))?.['client_secret'];
  if (typeof stored !== 'string' || !clients.verifySecret(presented, stored)) return undefined;
  return Buffer.from(JSON.stringify(rest), 'utf8');
}

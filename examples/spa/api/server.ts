/**
 * The demo API (resource server): one route, `GET /api/hello`, that answers only to a Gatehouse
 * access token verified by ./verify-access-token.ts, and CORS for the SPA's origin only.
 * Over https it asks for a client certificate (never required), so certificate-bound tokens work.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import Koa from 'koa';
import { ProofReplayCache, verifyAccessToken, type AccessTokenPolicy } from './verify-access-token.js';

export interface DemoApiOptions {
  readonly issuer: string;
  readonly audience: string;
  /** Defaults to the issuer's published `jwks_uri`. */
  readonly jwksUri?: string;
  readonly algorithms?: readonly string[];
  readonly requiredScopes?: readonly string[];
  /** Browser origins allowed to call the API (the SPA's). */
  readonly allowedOrigins: readonly string[];
  /** How far the API's clock may disagree with Gatehouse's (s, default 5). */
  readonly clockTolerance?: number;
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const response = await fetch(new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`));
  if (!response.ok) throw new Error(`cannot read the issuer's discovery document (${response.status})`);
  const { jwks_uri: jwksUri } = (await response.json()) as { jwks_uri?: unknown };
  if (typeof jwksUri !== 'string') throw new Error('the discovery document has no jwks_uri');
  return jwksUri;
}

/** The issuer's keys, located through its discovery document on first use (so the API may start first). */
function issuerKeys(options: DemoApiOptions): JWTVerifyGetKey {
  let keys: Promise<JWTVerifyGetKey> | undefined;
  return async (header, token) => {
    keys ??= (options.jwksUri ? Promise.resolve(options.jwksUri) : discoverJwksUri(options.issuer)).then(
      (uri) => createRemoteJWKSet(new URL(uri)),
      (error: unknown) => {
        keys = undefined;
        throw error;
      },
    );
    return (await keys)(header, token);
  };
}

export function demoApi(options: DemoApiOptions): Koa {
  const policy: AccessTokenPolicy = {
    issuer: options.issuer,
    audience: options.audience,
    keys: issuerKeys(options),
    algorithms: options.algorithms ?? ['ES256'],
    requiredScopes: options.requiredScopes ?? ['demo:read'],
    replay: new ProofReplayCache(),
    ...(options.clockTolerance !== undefined ? { clockTolerance: options.clockTolerance } : {}),
  };
  const app = new Koa();
  app.use(async (ctx, next) => {
    const origin = ctx.get('origin');
    if (origin && options.allowedOrigins.includes(origin)) {
      ctx.vary('Origin');
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', 'WWW-Authenticate');
      if (ctx.method === 'OPTIONS') {
        ctx.set('Access-Control-Allow-Methods', 'GET');
        ctx.set('Access-Control-Allow-Headers', 'authorization, dpop');
        ctx.set('Access-Control-Max-Age', '600');
        ctx.status = 204;
        return;
      }
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  app.use(async (ctx) => {
    if (ctx.path !== '/api/hello' || ctx.method !== 'GET') {
      ctx.status = 404;
      ctx.body = { error: 'not_found' };
      return;
    }
    const socket = ctx.req.socket as Partial<TLSSocket>;
    const certificate = socket.encrypted ? socket.getPeerCertificate?.() : undefined;
    let verdict: Awaited<ReturnType<typeof verifyAccessToken>>;
    try {
      verdict = await verifyAccessToken(
        {
          method: ctx.method,
          url: `${ctx.protocol}://${ctx.host}${ctx.path}`,
          authorization: ctx.get('authorization') || undefined,
          dpop: ctx.req.headers['dpop'],
          clientCertificate: certificate?.raw,
        },
        policy,
      );
    } catch (error) {
      // The issuer's keys could not be fetched: the token may be fine, so not a 401.
      ctx.app.emit('error', error, ctx);
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable' };
      return;
    }
    if (!verdict.ok) {
      ctx.status = verdict.status;
      ctx.set('WWW-Authenticate', verdict.wwwAuthenticate);
      ctx.body = { error: verdict.error };
      return;
    }
    const { sub, client_id: clientId, scope, exp } = verdict.claims;
    ctx.body = { message: `Hello, ${sub}. The demo API accepted your access token.`, sub, client_id: clientId, scope, token_expires_at: exp };
  });
  return app;
}

export interface RunningDemoApi {
  readonly url: string;
  close(): Promise<void>;
}

export async function startDemoApi(options: DemoApiOptions & { readonly port: number; readonly host?: string }): Promise<RunningDemoApi> {
  const app = demoApi(options);
  const server = options.tls
    ? https.createServer({ ...options.tls, requestCert: true, rejectUnauthorized: false }, app.callback())
    : http.createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

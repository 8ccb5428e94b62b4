/**
 * Admin API authentication (OPS-3): a Bearer JWT access token issued by this Gatehouse for the
 * admin API — signature against our own keys with pinned algorithms, issuer, audience,
 * `typ: at+jwt`, expiry — not revoked, from a client that still exists, with the scope the
 * route needs. Anything else is 401 or 403 with an RFC 6750 WWW-Authenticate header.
 */
import type { Context, Middleware } from 'koa';
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { ADMIN_API } from './admin-api.js';

export interface AdminCaller {
  readonly clientId: string;
  readonly scopes: ReadonlySet<string>;
}

export interface AdminAuthDependencies {
  readonly issuer: string;
  readonly publicKeys: () => readonly JWK[];
  readonly isRevoked: (jti: string) => Promise<boolean>;
  readonly clientExists: (clientId: string) => Promise<boolean>;
}

function refuse(ctx: Context, status: 401 | 403, error: string, description: string): void {
  ctx.status = status;
  ctx.set('WWW-Authenticate', `Bearer realm="gatehouse-admin", error="${error}", error_description="${description}"`);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}

export function adminAuthentication(deps: AdminAuthDependencies): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header)?.[1];
    if (!token) return refuse(ctx, 401, 'invalid_token', 'a Bearer access token for the admin API is required');
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, createLocalJWKSet({ keys: [...deps.publicKeys()] }), {
        issuer: deps.issuer,
        audience: ADMIN_API,
        typ: 'at+jwt',
        algorithms: ['ES256', 'RS256'],
        requiredClaims: ['jti', 'exp', 'client_id'],
      }));
    } catch {
      return refuse(ctx, 401, 'invalid_token', 'the access token is not valid for the admin API');
    }
    const clientId = String(claims['client_id']);
    // Only a client's own (client-credentials) token: a token acting for a user would outlive
    // that user's logout or disabling, which the admin API must not.
    if (claims['sub'] !== clientId) return refuse(ctx, 401, 'invalid_token', 'the admin API takes client-credentials tokens only');
    if ((await deps.isRevoked(String(claims['jti']))) || !(await deps.clientExists(clientId))) {
      return refuse(ctx, 401, 'invalid_token', 'the access token has been revoked');
    }
    const scopes = new Set(typeof claims['scope'] === 'string' ? claims['scope'].split(' ') : []);
    ctx.state['admin'] = { clientId, scopes } satisfies AdminCaller;
    return next();
  };
}

/** Reads need admin:read (or admin:write); changes need admin:write. */
export function requireScope(scope: 'admin:read' | 'admin:write'): Middleware {
  return async (ctx, next) => {
    const caller = ctx.state['admin'] as AdminCaller | undefined;
    const granted = caller?.scopes.has(scope) || (scope === 'admin:read' && caller?.scopes.has('admin:write'));
    if (!granted) return refuse(ctx, 403, 'insufficient_scope', `this operation needs the ${scope} scope`);
    return next();
  };
}

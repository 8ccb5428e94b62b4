/**
 * The backend-for-frontend: a confidential client of Gatehouse on the SPA's own origin.
 * - GET  /bff/login     starts Authorization Code + PKCE (state, nonce, verifier in a sealed cookie)
 * - GET  /bff/callback  redeems the code; the refresh token goes into the sealed refresh cookie
 * - POST /bff/session   a fresh short-lived access token for the page (refresh, one at a time)
 * - DELETE /bff/session sign-out: revokes the refresh token, returns Gatehouse's logout URL
 * The two /bff/session routes answer only the BFF's own pages: a custom header (which a
 * cross-site page cannot send without a CORS preflight that is never granted) and the exact
 * Origin. No response carries CORS headers. Tokens never reach the page except the access token.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import * as oidc from 'openid-client';
import { RefreshSerializer, SessionEnded } from './refresh-serializer.js';
import { CookieSealer, LOGIN_COOKIE, REFRESH_COOKIE, setCookieHeader } from './sealed-cookies.js';
import { staticPages } from './static-pages.js';

export interface BffOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly cookieSecret: string;
  /** Where browsers reach the BFF (scheme, host, port): its redirect URIs and the only Origin it answers. */
  readonly publicOrigin: string;
  /** The demo API's URL the SPA calls. */
  readonly apiUrl: string;
  /** The API's identifier in Gatehouse (RFC 8707 resource indicator). */
  readonly resource: string;
  readonly scope: string;
}

interface User {
  readonly sub: string;
  readonly name?: string;
}
interface SessionContents {
  readonly sid: string;
  readonly rt: string;
  readonly idt?: string;
  readonly user: User;
}
interface LoginContents {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}
interface Refreshed {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly cookie: string;
  readonly refreshToken: string;
  readonly user: User;
}

/** The header the SPA sends with every /bff/session call. */
export const BFF_HEADER = 'x-bff';

class SignedOut extends Error {}

function userOf(claims: oidc.IDToken | undefined, previous?: User): User {
  if (!claims) return previous ?? { sub: 'unknown' };
  const name = typeof claims['name'] === 'string' ? claims['name'] : typeof claims['preferred_username'] === 'string' ? claims['preferred_username'] : undefined;
  return { sub: claims.sub, ...(name ? { name } : {}) };
}

export function bffApp(options: BffOptions): Koa {
  const sealer = new CookieSealer(options.cookieSecret);
  const serializer = new RefreshSerializer<Refreshed>();
  const redirectUri = new URL('/bff/callback', options.publicOrigin).href;
  const issuer = new URL(options.issuer);
  let configuration: Promise<oidc.Configuration> | undefined;
  const client = () =>
    (configuration ??= oidc
      .discovery(issuer, options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
        // Only for a development issuer on http://localhost; a real issuer is https.
        ...(issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        configuration = undefined;
        throw error;
      }));

  const fromOwnPage = (ctx: Context) => {
    const site = ctx.get('sec-fetch-site');
    return (!site || site === 'same-origin') && ctx.get('origin') === options.publicOrigin && ctx.get(BFF_HEADER) === '1';
  };

  async function refresh(session: SessionContents): Promise<Refreshed> {
    return serializer.refresh(session.sid, session.rt, async () => {
      let tokens: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
      try {
        tokens = await oidc.refreshTokenGrant(await client(), session.rt);
      } catch (error) {
        if (error instanceof oidc.ResponseBodyError && error.error === 'invalid_grant') throw new SignedOut();
        throw error;
      }
      if (!tokens.refresh_token) throw new Error('Gatehouse did not return a refresh token');
      const user = userOf(tokens.claims(), session.user);
      const idt = tokens.id_token ?? session.idt;
      const contents: SessionContents = { sid: session.sid, rt: tokens.refresh_token, user, ...(idt ? { idt } : {}) };
      return {
        accessToken: tokens.access_token,
        expiresIn: tokens.expires_in ?? 60,
        refreshToken: tokens.refresh_token,
        cookie: await sealer.seal(REFRESH_COOKIE, { ...contents }),
        user,
      };
    });
  }

  const router = new Router();

  router.get('/bff/login', async (ctx) => {
    const login: LoginContents = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
    const url = oidc.buildAuthorizationUrl(await client(), {
      redirect_uri: redirectUri,
      scope: options.scope,
      resource: options.resource,
      state: login.state,
      nonce: login.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(login.verifier),
      code_challenge_method: 'S256',
    });
    ctx.append('Set-Cookie', setCookieHeader(LOGIN_COOKIE, await sealer.seal(LOGIN_COOKIE, { ...login })));
    ctx.redirect(url.href);
  });

  router.get('/bff/callback', async (ctx) => {
    const login = await sealer.open<LoginContents>(LOGIN_COOKIE, ctx.cookies.get(LOGIN_COOKIE.name));
    ctx.append('Set-Cookie', setCookieHeader(LOGIN_COOKIE, undefined));
    ctx.status = 303;
    if (!login) return ctx.redirect('/?signin=expired');
    try {
      const tokens = await oidc.authorizationCodeGrant(await client(), new URL(ctx.originalUrl, options.publicOrigin), {
        pkceCodeVerifier: login.verifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      if (!tokens.refresh_token) throw new Error('Gatehouse did not return a refresh token');
      const session: SessionContents = {
        sid: randomBytes(16).toString('base64url'),
        rt: tokens.refresh_token,
        user: userOf(tokens.claims()),
        ...(tokens.id_token ? { idt: tokens.id_token } : {}),
      };
      ctx.append('Set-Cookie', setCookieHeader(REFRESH_COOKIE, await sealer.seal(REFRESH_COOKIE, { ...session })));
      ctx.redirect('/');
    } catch (error) {
      ctx.app.emit('error', error, ctx);
      ctx.redirect('/?signin=failed');
    }
  });

  router.post('/bff/session', async (ctx) => {
    if (!fromOwnPage(ctx)) return ctx.throw(403, 'forbidden');
    const session = await sealer.open<SessionContents>(REFRESH_COOKIE, ctx.cookies.get(REFRESH_COOKIE.name));
    if (!session) {
      if (ctx.cookies.get(REFRESH_COOKIE.name)) ctx.append('Set-Cookie', setCookieHeader(REFRESH_COOKIE, undefined));
      ctx.status = 401;
      ctx.body = { error: 'signed_out' };
      return;
    }
    try {
      const refreshed = await refresh(session);
      ctx.append('Set-Cookie', setCookieHeader(REFRESH_COOKIE, refreshed.cookie));
      ctx.body = { access_token: refreshed.accessToken, token_type: 'Bearer', expires_in: refreshed.expiresIn, user: refreshed.user };
    } catch (error) {
      if (!(error instanceof SignedOut || error instanceof SessionEnded)) throw error;
      ctx.append('Set-Cookie', setCookieHeader(REFRESH_COOKIE, undefined));
      ctx.status = 401;
      ctx.body = { error: 'signed_out' };
    }
  });

  router.delete('/bff/session', async (ctx) => {
    if (!fromOwnPage(ctx)) return ctx.throw(403, 'forbidden');
    const session = await sealer.open<SessionContents>(REFRESH_COOKIE, ctx.cookies.get(REFRESH_COOKIE.name));
    const postLogout = new URL('/', options.publicOrigin).href;
    if (!session) {
      ctx.append('Set-Cookie', setCookieHeader(REFRESH_COOKIE, undefined));
      ctx.body = { logout_url: oidc.buildEndSessionUrl(await client(), { client_id: options.clientId, post_logout_redirect_uri: postLogout }).href };
      return;
    }
    const newest = await serializer.settle(session.sid);
    serializer.forget(session.sid);
    // Revoking the refresh token revokes its grant at Gatehouse: every token of this sign-in dies.
    for (const token of new Set([session.rt, ...(newest ? [newest.refreshToken] : [])])) {
      await oidc.tokenRevocation(await client(), token, { token_type_hint: 'refresh_token' });
    }
    // Only now: if Gatehouse could not be reached, the cookie stays so sign-out can be retried.
    ctx.append('Set-Cookie', setCookieHeader(REFRESH_COOKIE, undefined));
    const hint = newest ? (await sealer.open<SessionContents>(REFRESH_COOKIE, newest.cookie))?.idt : session.idt;
    ctx.body = {
      logout_url: oidc.buildEndSessionUrl(await client(), {
        client_id: options.clientId,
        post_logout_redirect_uri: postLogout,
        ...(hint ? { id_token_hint: hint } : {}),
      }).href,
    };
  });

  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const status = (error as { status?: number }).status ?? 500;
      if (status >= 500) ctx.app.emit('error', error, ctx);
      ctx.status = status >= 500 ? 502 : status;
      ctx.body = { error: status >= 500 ? 'issuer_unavailable' : 'forbidden' };
    }
    ctx.set('Cache-Control', 'no-store');
  });
  app.use(staticPages({ apiUrl: options.apiUrl }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

export interface RunningBff {
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on `port` (https when given a certificate, as in the tests; http on localhost for the demo). */
export async function startBff(
  options: BffOptions & { readonly port: number; readonly host?: string; readonly tls?: { readonly key: string; readonly cert: string } },
): Promise<RunningBff> {
  const handler = bffApp(options).callback();
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? 'localhost', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://${options.host ?? 'localhost'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

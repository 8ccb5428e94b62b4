/**
 * Security headers (NET-2, NET-3): koa-helmet with a strict Content-Security-Policy — no inline
 * script or style, no framing, forms post only to ourselves (pages that end in a redirect to a
 * client widen form-action to that client's registered redirect targets, and for a native app
 * to the loopback port its sign-in asked for) — plus HSTS whenever
 * the request arrived over https, and no X-Powered-By.
 */
import helmet from 'koa-helmet';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Context, Middleware } from 'koa';

const BASE_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
  upgradeInsecureRequests: null,
};

/**
 * The headers koa-helmet sets with these options, taken once from a response it has decorated:
 * they depend on nothing in the request, and running helmet's chain of middlewares for every
 * request cost more than setting the headers.
 */
function helmetHeaders(): ReadonlyArray<readonly [string, string]> {
  const helmetMiddleware = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: BASE_DIRECTIVES },
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'deny' },
  }) as unknown as Middleware;
  const req = new IncomingMessage(new Socket());
  const res = new ServerResponse(req);
  const names: string[] = [];
  const setHeader = res.setHeader.bind(res);
  res.setHeader = ((name: string, value: number | string | readonly string[]) => {
    names.push(name);
    return setHeader(name, value);
  }) as ServerResponse['setHeader'];
  // helmet decorates the response synchronously, before its promise settles.
  void helmetMiddleware({ req, res } as unknown as Context, async () => undefined);
  if (!res.hasHeader('content-security-policy')) throw new Error('koa-helmet set no Content-Security-Policy');
  return names.filter((name) => res.hasHeader(name)).map((name) => [name, String(res.getHeader(name))] as const);
}

export function securityHeaders(): Middleware {
  const headers = helmetHeaders();
  return async (ctx, next) => {
    for (const [name, value] of headers) ctx.res.setHeader(name, value);
    ctx.res.removeHeader('X-Powered-By');
    if (ctx.secure) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    return next();
  };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

interface RedirectingClient {
  readonly applicationType?: string | undefined;
  readonly redirectUris?: readonly string[] | undefined;
  redirectUriAllowed(uri: string): boolean;
}

/**
 * A client's redirect targets as the form-action sees them. FLOW-9 (RFC 8252 §7.3): the engine
 * matches a native client's loopback redirect URI on any port, but a host-source without a port
 * allows only port 80, so the browser would block the final redirect. For that case only, the
 * port this sign-in actually asked for (already checked by the engine) is added.
 */
export function clientFormTargets(client: RedirectingClient, requestedRedirectUri?: unknown): string[] {
  const targets = [...(client.redirectUris ?? [])];
  if (client.applicationType !== 'native' || typeof requestedRedirectUri !== 'string') return targets;
  const requested = URL.parse(requestedRedirectUri);
  if (requested?.protocol !== 'http:' || !LOOPBACK_HOSTS.has(requested.hostname) || !requested.port) return targets;
  if (!client.redirectUriAllowed(requestedRedirectUri)) return targets;
  targets.push(requested.origin);
  return targets;
}

/** CSP source for where a redirect after a form post may land: an origin, or a custom scheme. */
export function formTargetSource(uri: string): string | undefined {
  if (!URL.canParse(uri)) return undefined;
  const url = new URL(uri);
  // CSP host sources cannot hold an IPv6 literal (Chromium ignores `http://[::1]`): the closest
  // source it accepts is any host with that scheme on exactly that port — only for an explicit
  // port (e.g. the loopback port a native app's sign-in asked for), never for the default one.
  // Nor for 443: CSP lets an http source match https on that port, i.e. every https site.
  if ((url.protocol === 'https:' || url.protocol === 'http:') && url.hostname.startsWith('[')) {
    return url.port && url.port !== '443' ? `${url.protocol}//*:${url.port}` : undefined;
  }
  if (url.protocol === 'https:' || url.protocol === 'http:') return url.origin;
  return url.protocol;
}

/** The page-specific policy: the base one with form-action widened to `formTargets`. */
export function contentSecurityPolicy(formTargets: readonly string[] = []): string {
  const sources = [...new Set(formTargets.map(formTargetSource).filter((s): s is string => Boolean(s)))];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    `form-action 'self'${sources.length ? ` ${sources.join(' ')}` : ''}`,
  ].join('; ');
}

/** Widens form-action on an already-set policy (engine pages that post to a client). */
export function widenFormAction(
  ctx: { response: { get(name: string): string }; set(name: string, value: string): void },
  targets: readonly string[],
): void {
  const policy = ctx.response.get('content-security-policy');
  const sources = [...new Set(targets.map(formTargetSource).filter((source): source is string => Boolean(source)))];
  if (!policy || !sources.length) return;
  ctx.set('Content-Security-Policy', policy.replace(/form-action 'self'/, `form-action 'self' ${sources.join(' ')}`));
}

/**
 * Prometheus metrics (OPS-5) on their own port, never on the public one: request durations by
 * route template, tokens issued by grant type, sign-ins, rate-limit rejections, database pool use.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { Middleware } from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { loggablePath } from './logger.js';

// Bounded label values: known endpoints by template, everything else is "other".
const KNOWN_ROUTES = new Set([
  '/auth', '/auth/:uid', '/token', '/token/introspection', '/token/revocation', '/me', '/jwks', '/request',
  '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/session/end', '/session/end/confirm',
  '/session/end/success', '/interaction/:uid', '/interaction/:uid/login', '/interaction/:uid/confirm', '/interaction/:uid/abort',
  '/account', '/account/password', '/account/sign-out', '/account/callback', '/account/sessions/end-others',
  '/account/sessions/:handle/end', '/healthz', '/readyz', '/assets/gatehouse.css',
  '/interaction/:uid/second-factor', '/interaction/:uid/enrol', '/account/security', '/account/totp/start', '/account/totp/confirm', '/account/totp/remove',
  '/account/recovery-codes', '/interaction/:uid/passkey', '/interaction/:uid/passkey/options', '/account/passkeys',
  '/account/passkeys/options', '/assets/passkeys.js', '/assets/simplewebauthn-browser.js',
]);

export function routeLabel(path: string): string {
  const template = loggablePath(path).replace(/^\/admin\/v1\/.*/, '/admin/v1/*');
  return KNOWN_ROUTES.has(template) || template === '/admin/v1/*' ? template : 'other';
}

export class Metrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request duration by route template',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly tokensIssued = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Successful token endpoint responses by grant type',
    labelNames: ['grant_type'] as const,
    registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Sign-in attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'gatehouse_rate_limit_rejections_total',
    help: 'Requests refused by a rate limit, by policy',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });

  readonly secondFactors = new Counter({
    name: 'gatehouse_second_factor_total',
    help: 'Second-factor events (MFA): sign-in attempts by method and result, enrolments and removals',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
  });

  readonly grantsRevoked = new Counter({
    name: 'gatehouse_grants_revoked_total',
    help: 'Grants revoked by the engine, by endpoint (token: a code or refresh token was used twice)',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  constructor(knex?: Knex) {
    collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    if (knex) {
      // tarn's pool, behind knex's client: not in knex's public types.
      const pool = (knex.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
      new Gauge({
        name: 'gatehouse_db_pool_connections',
        help: 'Database pool connections by state',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          if (!pool) return;
          this.set({ state: 'used' }, pool.numUsed());
          this.set({ state: 'free' }, pool.numFree());
          this.set({ state: 'pending' }, pool.numPendingAcquires());
        },
      });
    }
  }

  middleware(): Middleware {
    return async (ctx, next) => {
      const stop = this.requestDuration.startTimer();
      try {
        await next();
      } finally {
        const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
        stop({ method: ctx.method, route: routeLabel(ctx.path), status: String(status) });
      }
    };
  }

  /** A separate listener for Prometheus; returns its address. */
  async listen(port: number, host: string): Promise<{ url: string; close(): Promise<void> }> {
    const server = http.createServer(async (req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(await this.registry.metrics());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    return {
      url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}/metrics`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}

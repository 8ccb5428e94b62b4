/**
 * Rate limits (API-1) on counters every replica shares: Redis when REDIS_URL is set, else the
 * PostgreSQL every replica already uses, else (embedded, one process) memory. A store outage
 * falls back to per-process limits rather than failing requests.
 */
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { Config } from '../config/index.js';
import { BatchedLimiter } from './batched-limiter.js';
import type { DatabaseKind } from '../db/index.js';
import { sendPage } from '../interactions/respond.js';
import { errorPage } from '../interactions/views/pages.js';
import { endpointOf } from './token-requests.js';
import { ASSET_PATHS } from '../interactions/assets.js';

export interface Policy {
  readonly name: string;
  readonly limit: number;
  readonly windowSeconds: number;
}

export class RateLimits {
  readonly #redis: Redis | undefined;

  private constructor(
    private readonly store: 'redis' | 'postgres' | 'memory',
    private readonly knex: Knex | undefined,
    redis: Redis | undefined,
  ) {
    this.#redis = redis;
  }

  static create(config: Config, db: { knex: Knex; kind: DatabaseKind }, logger: Logger): RateLimits {
    if (config.rateLimits.redisUrl) {
      const redis = new Redis(config.rateLimits.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      redis.on('error', (error) => logger.warn({ err: error }, 'rate-limit store (Redis) unavailable; limiting per process'));
      return new RateLimits('redis', undefined, redis);
    }
    return db.kind === 'postgres' ? new RateLimits('postgres', db.knex, undefined) : new RateLimits('memory', undefined, undefined);
  }

  get storeName(): string {
    return this.store;
  }

  /** A limiter of `points` per `durationSeconds`, keys prefixed with `name`. */
  limiter(name: string, points: number, durationSeconds: number): RateLimiterAbstract {
    const options = { keyPrefix: `gh:${name}`, points, duration: durationSeconds };
    const local = new RateLimiterMemory(options);
    if (this.store === 'redis') return new RateLimiterRedis({ ...options, storeClient: this.#redis, insuranceLimiter: local });
    if (this.store === 'postgres') {
      return new RateLimiterPostgres({
        ...options,
        storeClient: this.knex,
        storeType: 'knex',
        tableName: 'gatehouse_rate_limits',
        tableCreated: true,
        insuranceLimiter: local,
      });
    }
    return local;
  }

  async close(): Promise<void> {
    await this.#redis?.quit().catch(() => undefined);
  }
}

export function isLimited(error: unknown): error is RateLimiterRes {
  return error instanceof RateLimiterRes;
}

export function secondsUntil(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/** IETF RateLimit / RateLimit-Policy headers (draft-ietf-httpapi-ratelimit-headers). */
export function setRateLimitHeaders(ctx: Pick<Context, 'set'>, policy: Policy, res: RateLimiterRes): void {
  ctx.set('RateLimit-Policy', `"${policy.name}";q=${policy.limit};w=${policy.windowSeconds}`);
  ctx.set('RateLimit', `"${policy.name}";r=${Math.max(0, res.remainingPoints)};t=${secondsUntil(res)}`);
}

const PAGE_PATHS = /^\/(interaction|account|auth|session)(\/|$)/;

/** 429 with Retry-After: an OAuth-style JSON error for API endpoints, a page for people. */
export function tooManyRequests(ctx: Context, policy: Policy, res: RateLimiterRes, message = 'Too many requests.'): void {
  const retryAfter = secondsUntil(res);
  setRateLimitHeaders(ctx, policy, res);
  ctx.set('Retry-After', String(retryAfter));
  ctx.set('Cache-Control', 'no-store');
  if (PAGE_PATHS.test(ctx.path) && ctx.method === 'GET') {
    sendPage(ctx, errorPage({ title: 'Slow down', message: `${message} Try again in ${retryAfter} seconds.` }), { status: 429 });
    return;
  }
  ctx.status = 429;
  ctx.body = { error: 'too_many_requests', error_description: `${message} Retry in ${retryAfter} seconds.` };
}

export interface EdgeLimitOptions {
  readonly limits: RateLimits;
  readonly ipPerMinute: number;
  readonly clientPerMinute: number;
  /** Failed client authentications per client+address per minute (apart from the client's budget). */
  readonly clientAuthFailuresPerMinute: number;
  /** How often per-process counts are added to the shared store (0: on every request). */
  readonly syncMs: number;
  readonly logger: Logger;
  readonly onReject?: (policy: string) => void;
}

export interface EdgeLimits {
  /** Per address, on every endpoint; runs before any body is read (issue 13 item 4). */
  readonly byAddress: Middleware;
  /** Per client, on the token, introspection and revocation endpoints, once the edge knows the client. */
  readonly byClient: Middleware;
}

const UNLIMITED_PATHS = new Set(['/healthz', '/readyz']);

/**
 * API-1 at the edge. A client's budget is spent only by requests that did not fail client
 * authentication (issue 13 item 6): the claimed client id is known before the engine checks the
 * credentials, so the budget is checked before and charged after the engine answers. A failed
 * authentication (401) is counted per client+address instead, so a stranger who knows a client
 * id exhausts only their own address's allowance, never the client's.
 */
export function edgeRateLimits(options: EdgeLimitOptions): EdgeLimits {
  const ipPolicy: Policy = { name: 'ip', limit: options.ipPerMinute, windowSeconds: 60 };
  const clientPolicy: Policy = { name: 'client', limit: options.clientPerMinute, windowSeconds: 60 };
  const failurePolicy: Policy = { name: 'client-auth-failures', limit: options.clientAuthFailuresPerMinute, windowSeconds: 60 };
  const batched = (policy: Policy) =>
    new BatchedLimiter(options.limits.limiter(policy.name, policy.limit, 60), policy.limit, 60, options.syncMs);
  const byIp = batched(ipPolicy);
  const byClient = batched(clientPolicy);
  const failures = batched(failurePolicy);

  const refuse = (ctx: Context, policy: Policy, res: RateLimiterRes, detail: Record<string, unknown>) => {
    options.logger.warn({ event: 'rate_limited', policy: policy.name, path: ctx.path, ...detail }, 'rate limit reached');
    options.onReject?.(policy.name);
    tooManyRequests(ctx, policy, res);
  };

  const byAddress: Middleware = async (ctx, next) => {
    if (UNLIMITED_PATHS.has(ctx.path) || ASSET_PATHS.has(ctx.path)) return next();
    let res: RateLimiterRes;
    try {
      res = await byIp.consume(ctx.ip);
    } catch (error) {
      if (!isLimited(error)) throw error;
      refuse(ctx, ipPolicy, error, { ip: ctx.ip });
      return;
    }
    setRateLimitHeaders(ctx, ipPolicy, res);
    return next();
  };

  const byClientMiddleware: Middleware = async (ctx, next) => {
    const clientId = ctx.state['clientId'] as string | undefined;
    if (!clientId) return next();
    const failureKey = `${clientId}|${ctx.ip}`;
    let spent = byClient.exhausted(clientId);
    let failing = failures.exhausted(failureKey);
    if (spent instanceof Promise || failing instanceof Promise) [spent, failing] = await Promise.all([spent, failing]);
    if (failing) return refuse(ctx, failurePolicy, failing, { clientId, ip: ctx.ip });
    if (spent) return refuse(ctx, clientPolicy, spent, { clientId });
    await next();
    const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
    // Charged after the answer (nobody waits for it); a limit reached meanwhile shows on the next request.
    void (status === 401 ? failures.consume(failureKey) : byClient.consume(clientId)).catch(() => undefined);
  };

  return { byAddress, byClient: byClientMiddleware };
}

export interface RegistrationLimitOptions {
  readonly limits: RateLimits;
  readonly perHour: number;
  readonly logger: Logger;
  readonly onReject?: (policy: string) => void;
}

/**
 * FLOW-11: new client registrations per address and hour, counted exactly (no batching): each
 * one adds a client that stays until it is deleted.
 */
export function registrationRateLimit(options: RegistrationLimitOptions): Middleware {
  const policy: Policy = { name: 'registration', limit: options.perHour, windowSeconds: 3600 };
  const limiter = options.limits.limiter('registration', policy.limit, policy.windowSeconds);
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || endpointOf(ctx.path) !== '/reg') return next();
    try {
      setRateLimitHeaders(ctx, policy, await limiter.consume(ctx.ip));
    } catch (error) {
      if (!isLimited(error)) throw error;
      options.logger.warn({ event: 'rate_limited', policy: policy.name, ip: ctx.ip, path: ctx.path }, 'rate limit reached');
      options.onReject?.(policy.name);
      tooManyRequests(ctx, policy, error);
      return;
    }
    return next();
  };
}

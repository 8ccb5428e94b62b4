import os from 'node:os';
import path from 'node:path';

import { environmentSchema } from './schema.js';

export interface Config {
  readonly issuer: string;
  readonly port: number;
  readonly host: string;
  readonly database:
    | { readonly kind: 'postgres'; readonly url: string; readonly poolMax: number }
    | { readonly kind: 'embedded'; readonly dataDir: string };
  readonly dataDir: string;
  /** Explicit master secret; absent only in embedded mode, where one is kept in the data dir. */
  readonly secret: string | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly trustProxy: boolean;
  readonly ttl: {
    readonly accessToken: number;
    readonly refreshToken: number;
    readonly idToken: number;
    readonly authorizationCode: number;
    readonly interaction: number;
    readonly grant: number;
    readonly sessionIdle: number;
    readonly sessionMaxAge: number;
  };
  readonly sessions: {
    readonly maxPerAccount: number;
  };
  /** Worker processes sharing the port (node:cluster); 1 means no cluster. */
  readonly workers: number;
  readonly metrics: { readonly port: number; readonly host: string } | undefined;
  readonly keys: {
    /** Age after which the signing keys are rotated automatically (JWT-2). */
    readonly rotationSeconds: number;
    readonly jwksCacheMaxAge: number;
    readonly publishDelay: number;
    readonly refreshInterval: number;
  };
  readonly rateLimits: {
    /** Shared counters: Redis when set, else PostgreSQL, else (embedded) this process. */
    readonly redisUrl: string | undefined;
    readonly ipPerMinute: number;
    readonly clientPerMinute: number;
    /** How often a process adds its request counts to the shared store; 0 = every request. */
    readonly syncMs: number;
    readonly login: {
      readonly freeFailuresPerAccountAndIp: number;
      readonly freeFailuresPerAccount: number;
      readonly freeFailuresPerIp: number;
      readonly maxDelaySeconds: number;
    };
  };
  readonly storage: {
    readonly expiredRecordGrace: number;
    readonly sweepInterval: number;
  };
  /** MFA-3: clients whose sign-ins must be multi-factor (besides those registered with require_mfa). */
  readonly mfa: {
    readonly requireFor: 'all' | readonly string[];
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Pure: turns an environment map into a frozen Config, or throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        return issue.message.startsWith(name) || !name ? issue.message : `${name}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const dataDir = path.resolve(e.GATEHOUSE_DATA_DIR);
  return deepFreeze<Config>({
    issuer,
    port: e.PORT,
    host: e.HOST,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolMax: e.DB_POOL_MAX }
      : { kind: 'embedded', dataDir: path.join(dataDir, 'pgdata') },
    dataDir,
    secret: e.GATEHOUSE_SECRET,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    ttl: {
      accessToken: e.ACCESS_TOKEN_TTL,
      refreshToken: e.REFRESH_TOKEN_TTL,
      idToken: e.ID_TOKEN_TTL,
      authorizationCode: e.AUTHORIZATION_CODE_TTL,
      interaction: e.INTERACTION_TTL,
      grant: e.GRANT_TTL,
      sessionIdle: e.SESSION_IDLE_TIMEOUT,
      sessionMaxAge: e.SESSION_MAX_AGE,
    },
    sessions: { maxPerAccount: e.MAX_SESSIONS_PER_ACCOUNT },
    workers: e.WORKERS === 'auto' ? (e.DATABASE_URL ? os.availableParallelism() : 1) : e.WORKERS,
    metrics: e.METRICS_PORT === 'off' ? undefined : { port: e.METRICS_PORT, host: e.METRICS_HOST },
    keys: {
      rotationSeconds: Math.round(e.KEY_ROTATION_DAYS * 24 * 3600),
      jwksCacheMaxAge: e.JWKS_CACHE_MAX_AGE,
      publishDelay: e.KEY_PUBLISH_DELAY,
      refreshInterval: e.KEY_REFRESH_INTERVAL,
    },
    rateLimits: {
      redisUrl: e.REDIS_URL,
      ipPerMinute: e.RATE_LIMIT_IP_PER_MINUTE,
      clientPerMinute: e.RATE_LIMIT_CLIENT_PER_MINUTE,
      syncMs: e.RATE_LIMIT_SYNC_MS,
      login: {
        freeFailuresPerAccountAndIp: e.LOGIN_FREE_FAILURES_PER_ACCOUNT_IP,
        freeFailuresPerAccount: e.LOGIN_FREE_FAILURES_PER_ACCOUNT,
        freeFailuresPerIp: e.LOGIN_FREE_FAILURES_PER_IP,
        maxDelaySeconds: e.LOGIN_MAX_DELAY,
      },
    },
    storage: {
      expiredRecordGrace: e.EXPIRED_RECORD_GRACE,
      sweepInterval: e.SWEEP_INTERVAL,
    },
    mfa: {
      requireFor: !e.REQUIRE_MFA_FOR || e.REQUIRE_MFA_FOR === 'none' ? [] : e.REQUIRE_MFA_FOR === 'all' ? 'all' : e.REQUIRE_MFA_FOR.split(',').map((id) => id.trim()),
    },
  });
}

/** The only reader of process.env in the code base. */
export function configFromProcessEnvironment(): Config {
  return loadConfig(process.env);
}


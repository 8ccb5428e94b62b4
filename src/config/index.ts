import os from 'node:os';
import path from 'node:path';

import { environmentSchema } from './schema.js';
import { unknownSettingWarnings } from './unknown-settings.js';

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
    /** Failed client authentications per client and address, counted apart from the client's budget. */
    readonly clientAuthFailuresPerMinute: number;
    /** How often a process adds its request counts to the shared store; 0 = every request. */
    readonly syncMs: number;
    readonly login: {
      readonly freeFailuresPerAccountAndIp: number;
      readonly freeFailuresPerAccount: number;
      readonly freeFailuresPerIp: number;
      readonly maxDelaySeconds: number;
    };
  };
  /** Load shedding (API-5): connection cap per process; median event-loop delay that sheds (0: off). */
  readonly overload: {
    readonly maxConnections: number;
    readonly maxEventLoopDelayMs: number;
  };
  readonly storage: {
    readonly expiredRecordGrace: number;
    readonly sweepInterval: number;
  };
  /** DPoP (RFC 9449): whether every proof must carry a server-issued nonce. */
  readonly dpop: { readonly requireNonce: boolean };
  /** Pushed authorization requests (RFC 9126): required of every client when true. */
  readonly par: { readonly required: boolean };
  /** NET-1: Gatehouse terminates TLS itself; absent behind a TLS-terminating proxy. */
  readonly tls: TlsSettings | undefined;
  /** FLOW-8: mutual TLS client authentication; absent when no client certificate can arrive. */
  readonly mtls: MtlsSettings | undefined;
  /** FLOW-11: dynamic client registration (RFC 7591 / 7592) and the policy registered clients obey. */
  readonly registration: {
    readonly mode: 'off' | 'initial-access-token' | 'open';
    readonly grantTypes: readonly string[];
    readonly authMethods: readonly string[];
    /** Scopes a registered client may list; undefined: the OpenID Connect scopes. */
    readonly scopes: readonly string[] | undefined;
    /** Host names (or `*.domain`) redirect URIs may point at; undefined: any. */
    readonly redirectHosts: readonly string[] | undefined;
    /** New registrations per client address and hour. */
    readonly perHour: number;
  };
  /** MFA-3: clients whose sign-ins must be multi-factor (besides those registered with require_mfa). */
  readonly mfa: {
    readonly requireFor: 'all' | readonly string[];
  };
}

export interface TlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the files are re-read for a renewed certificate. */
  readonly reloadIntervalMs: number;
}

export interface MtlsSettings {
  /** Gatehouse's own listener that asks for client certificates (same server certificate). */
  readonly port: number | undefined;
  /** Trust anchors for `tls_client_auth`; without it only `self_signed_tls_client_auth` works. */
  readonly caFile: string | undefined;
  /** How often `caFile` is re-read for a rotated CA (TLS_RELOAD_INTERVAL, as for the server certificate). */
  readonly reloadIntervalMs: number;
  /** Where clients reach the mTLS endpoints (`mtls_endpoint_aliases`); absent: no aliases. */
  readonly url: string | undefined;
  /** A trusted proxy or sidecar terminates mTLS and forwards the certificate in a header. */
  readonly forwarded: { readonly header: string; readonly trustedProxies: readonly string[] } | undefined;
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
      withCrossFieldIssues(env, parsed.error.issues).map((issue) => {
        const name = issue.path.join('.');
        return issue.message.startsWith(name) || !name ? issue.message : `${name}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const issuer = (e.ISSUER ?? `${e.TLS_CERT_FILE ? 'https' : 'http'}://localhost:${e.PORT}`).replace(/\/+$/, '');
  const dataDir = path.resolve(e.GATEHOUSE_DATA_DIR);
  return deepFreeze<Config>({
    issuer,
    port: e.PORT,
    // A fresh embedded server (demo credentials, generated secret) stays on this machine unless
    // told otherwise; a PostgreSQL deployment runs in containers behind a proxy.
    host: e.HOST ?? (e.DATABASE_URL ? '0.0.0.0' : '127.0.0.1'),
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
      clientAuthFailuresPerMinute: e.RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_MINUTE,
      syncMs: e.RATE_LIMIT_SYNC_MS,
      login: {
        freeFailuresPerAccountAndIp: e.LOGIN_FREE_FAILURES_PER_ACCOUNT_IP,
        freeFailuresPerAccount: e.LOGIN_FREE_FAILURES_PER_ACCOUNT,
        freeFailuresPerIp: e.LOGIN_FREE_FAILURES_PER_IP,
        maxDelaySeconds: e.LOGIN_MAX_DELAY,
      },
    },
    overload: {
      maxConnections: e.MAX_CONNECTIONS,
      maxEventLoopDelayMs: e.OVERLOAD_EVENT_LOOP_DELAY_MS,
    },
    storage: {
      expiredRecordGrace: e.EXPIRED_RECORD_GRACE,
      sweepInterval: e.SWEEP_INTERVAL,
    },
    dpop: { requireNonce: e.DPOP_REQUIRE_NONCE },
    par: { required: e.REQUIRE_PAR },
    tls: e.TLS_CERT_FILE && e.TLS_KEY_FILE
      ? { certFile: path.resolve(e.TLS_CERT_FILE), keyFile: path.resolve(e.TLS_KEY_FILE), reloadIntervalMs: e.TLS_RELOAD_INTERVAL * 1000 }
      : undefined,
    mtls: e.MTLS_PORT !== undefined || e.CLIENT_CERT_HEADER
      ? {
          port: e.MTLS_PORT,
          caFile: e.MTLS_CA_FILE ? path.resolve(e.MTLS_CA_FILE) : undefined,
          reloadIntervalMs: e.TLS_RELOAD_INTERVAL * 1000,
          url: (e.MTLS_URL ?? (e.MTLS_PORT !== undefined ? withPort(issuer, e.MTLS_PORT) : undefined))?.replace(/\/+$/, ''),
          forwarded: e.CLIENT_CERT_HEADER ? { header: e.CLIENT_CERT_HEADER, trustedProxies: e.TRUSTED_PROXIES ?? [] } : undefined,
        }
      : undefined,
    registration: {
      mode: e.REGISTRATION,
      grantTypes: e.REGISTRATION_GRANT_TYPES,
      authMethods: e.REGISTRATION_AUTH_METHODS,
      scopes: e.REGISTRATION_SCOPES?.split(/[\s,]+/).filter(Boolean),
      redirectHosts: e.REGISTRATION_REDIRECT_HOSTS?.split(/[\s,]+/).filter(Boolean).map((host) => host.toLowerCase()),
      perHour: e.RATE_LIMIT_REGISTRATION_PER_HOUR,
    },
    mfa: {
      requireFor: !e.REQUIRE_MFA_FOR || e.REQUIRE_MFA_FOR === 'none' ? [] : e.REQUIRE_MFA_FOR === 'all' ? 'all' : e.REQUIRE_MFA_FOR.split(',').map((id) => id.trim()),
    },
  });
}

/** The issuer's origin and path on another port: where the mTLS listener answers by default. */
function withPort(issuer: string, port: number): string {
  const url = new URL(issuer);
  url.port = String(port);
  return url.href;
}

type Issue = { readonly path: readonly PropertyKey[]; readonly message: string };

/**
 * A value of the wrong type stops zod before the checks that relate several settings; run
 * those again without the broken settings so one problem does not hide another. A check that
 * names a broken setting is left out (its verdict would rest on a default).
 */
function withCrossFieldIssues(env: Record<string, string | undefined>, issues: readonly Issue[]): Issue[] {
  const broken = new Set(issues.map((issue) => String(issue.path[0] ?? '')));
  const rest = Object.fromEntries(Object.entries(env).filter(([name]) => !broken.has(name)));
  const retried = environmentSchema.safeParse(rest);
  const more = retried.success
    ? []
    : retried.error.issues.filter((issue) => !broken.has(String(issue.path[0] ?? '')) && ![...broken].some((name) => name && issue.message.includes(name)));
  return [...issues, ...more];
}

/** Warnings about variables that look like settings but are not (typos): one line each. */
export function configWarnings(env: Record<string, string | undefined>): string[] {
  return unknownSettingWarnings(env, Object.keys(environmentSchema.shape));
}

// These two are the only readers of process.env in the code base.
export function configWarningsFromProcessEnvironment(): string[] {
  return configWarnings(process.env);
}

export function configFromProcessEnvironment(): Config {
  return loadConfig(process.env);
}


/**
 * The one place the environment is read into a typed configuration.
 * Enforces: known variables only get parsed, every value is checked, every TTL is bounded,
 * and DATABASE_URL mode requires an explicit master secret.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { AUTH_METHODS, GRANT_TYPES } from '../clients/schema.js';

const seconds = (name: string, fallback: number, min = 1, max = 60 * 60 * 24 * 365) =>
  z.coerce
    .number({ error: `${name} must be a whole number of seconds` })
    .int(`${name} must be a whole number of seconds`)
    .min(min, `${name} must be at least ${min} seconds`)
    .max(max, `${name} must be at most ${max} seconds`)
    .default(fallback);

const flag = (name: string, fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: `${name} must be true or false` })
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** A comma- or space-separated list of values from `allowed`. */
const listOf = (name: string, allowed: readonly string[], fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) => value.split(/[\s,]+/).filter(Boolean))
    .refine((values) => values.length > 0, `${name} must list at least one value`)
    .refine((values) => values.every((value) => allowed.includes(value)), `${name} may only list ${allowed.join(', ')}`);

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

export const environmentSchema = z
  .object({
    NODE_ENV: z.string().optional(),
    PORT: z.coerce
      .number({ error: 'PORT must be a number' })
      .int('PORT must be a whole number')
      .min(0, 'PORT must be between 0 and 65535')
      .max(65535, 'PORT must be between 0 and 65535')
      .default(3000),
    // Default chosen in loadConfig: loopback on the embedded database, every interface with DATABASE_URL.
    HOST: z.string().min(1).optional(),
    ISSUER: optionalText.pipe(
      z
        .url({ protocol: /^https?$/, error: 'ISSUER must be an absolute http(s) URL' })
        .refine((value) => !/[?#]/.test(value), 'ISSUER must not contain a query or fragment')
        .optional(),
    ),
    DATABASE_URL: optionalText.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// or postgresql:// URL')
        .optional(),
    ),
    GATEHOUSE_DATA_DIR: z.string().min(1).default('./data'),
    GATEHOUSE_SECRET: optionalText.pipe(
      z.string().min(32, 'GATEHOUSE_SECRET must be at least 32 characters').optional(),
    ),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
    TRUST_PROXY: flag('TRUST_PROXY', false),
    // Migrations hold an advisory lock on one connection while migrating on another.
    DB_POOL_MAX: z.coerce.number().int().min(2, 'DB_POOL_MAX must be at least 2').max(200).default(10),
    ACCESS_TOKEN_TTL: seconds('ACCESS_TOKEN_TTL', 15 * 60, 30, 24 * 3600),
    REFRESH_TOKEN_TTL: seconds('REFRESH_TOKEN_TTL', 7 * 24 * 3600, 60),
    ID_TOKEN_TTL: seconds('ID_TOKEN_TTL', 3600, 30, 24 * 3600),
    AUTHORIZATION_CODE_TTL: seconds('AUTHORIZATION_CODE_TTL', 60, 10, 600),
    INTERACTION_TTL: seconds('INTERACTION_TTL', 3600, 60, 24 * 3600),
    GRANT_TTL: seconds('GRANT_TTL', 14 * 24 * 3600, 60),
    // SESS-3: both bounds always apply; 0 ("off") is not a value either accepts.
    SESSION_IDLE_TIMEOUT: seconds('SESSION_IDLE_TIMEOUT', 30 * 60, 1, 7 * 24 * 3600),
    SESSION_MAX_AGE: seconds('SESSION_MAX_AGE', 12 * 3600, 1, 30 * 24 * 3600),
    MAX_SESSIONS_PER_ACCOUNT: z.coerce
      .number({ error: 'MAX_SESSIONS_PER_ACCOUNT must be a number' })
      .int('MAX_SESSIONS_PER_ACCOUNT must be a whole number')
      .min(1, 'MAX_SESSIONS_PER_ACCOUNT must be at least 1')
      .max(1000, 'MAX_SESSIONS_PER_ACCOUNT must be at most 1000')
      .default(5),
    JWKS_CACHE_MAX_AGE: seconds('JWKS_CACHE_MAX_AGE', 600, 0, 24 * 3600),
    KEY_PUBLISH_DELAY: seconds('KEY_PUBLISH_DELAY', 3600, 0, 30 * 24 * 3600),
    KEY_REFRESH_INTERVAL: seconds('KEY_REFRESH_INTERVAL', 30, 1, 3600),
    REDIS_URL: optionalText.pipe(z.string().regex(/^rediss?:\/\//, 'REDIS_URL must be a redis:// or rediss:// URL').optional()),
    RATE_LIMIT_IP_PER_MINUTE: z.coerce.number().int().min(1).max(10_000_000).default(1200),
    RATE_LIMIT_CLIENT_PER_MINUTE: z.coerce.number().int().min(1).max(10_000_000).default(6000),
    RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(10_000_000).default(20),
    RATE_LIMIT_SYNC_MS: z.coerce.number().int().min(0).max(10_000).default(100),
    LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: z.coerce.number().int().min(1).max(1000).default(5),
    LOGIN_FREE_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(10_000).default(20),
    LOGIN_FREE_FAILURES_PER_IP: z.coerce.number().int().min(1).max(100_000).default(100),
    LOGIN_MAX_DELAY: seconds('LOGIN_MAX_DELAY', 15 * 60, 1, 24 * 3600),
    MAX_CONNECTIONS: z.coerce.number().int().min(1, 'MAX_CONNECTIONS must be at least 1').max(1_000_000).default(10_000),
    OVERLOAD_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(200),
    WORKERS: z
      .union([z.literal('auto'), z.coerce.number().int().min(1).max(64)], { error: 'WORKERS must be a number from 1 to 64 or "auto"' })
      .default('auto'),
    METRICS_PORT: z
      .union([z.literal('off'), z.coerce.number().int().min(0).max(65535)], { error: 'METRICS_PORT must be a port number or "off"' })
      .default(9464),
    // Secure by default: metrics stay on loopback unless an operator opens them to a scraper.
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    KEY_ROTATION_DAYS: z.coerce
      .number({ error: 'KEY_ROTATION_DAYS must be a number of days' })
      .positive('KEY_ROTATION_DAYS must be more than 0')
      .max(3650)
      .default(90),
    EXPIRED_RECORD_GRACE: seconds('EXPIRED_RECORD_GRACE', 24 * 3600, 0, 30 * 24 * 3600),
    SWEEP_INTERVAL: seconds('SWEEP_INTERVAL', 60, 1, 24 * 3600),
    // FLOW-8: a DPoP proof must carry a server nonce (RFC 9449 §8), so a proof made in advance —
    // e.g. by script injected into a single-page app — is useless after about five minutes.
    DPOP_REQUIRE_NONCE: flag('DPOP_REQUIRE_NONCE', true),
    // RFC 9126: every authorization request must be pushed first (clients may also opt in alone).
    REQUIRE_PAR: flag('REQUIRE_PAR', false),
    // NET-1: Gatehouse serves TLS itself when both files are set (PEM; the cert file may hold the chain).
    TLS_CERT_FILE: optionalText,
    TLS_KEY_FILE: optionalText,
    TLS_RELOAD_INTERVAL: seconds('TLS_RELOAD_INTERVAL', 10, 1, 3600),
    // FLOW-8: mutual TLS on its own listener, so a browser is never asked for a certificate.
    MTLS_PORT: optionalText.pipe(
      z
        .string()
        .regex(/^\d{1,5}$/, 'MTLS_PORT must be a port number')
        .transform(Number)
        .refine((port) => port >= 1 && port <= 65535, 'MTLS_PORT must be between 1 and 65535')
        .optional(),
    ),
    MTLS_CA_FILE: optionalText,
    MTLS_URL: optionalText.pipe(
      z.url({ protocol: /^https$/, error: 'MTLS_URL must be an absolute https URL' }).refine((value) => !/[?#]/.test(value), 'MTLS_URL must not contain a query or fragment').optional(),
    ),
    CLIENT_CERT_HEADER: optionalText.pipe(
      z.string().regex(/^[A-Za-z0-9-]+$/, 'CLIENT_CERT_HEADER must be an HTTP header name').transform((value) => value.toLowerCase()).optional(),
    ),
    TRUSTED_PROXIES: optionalText.pipe(
      z
        .string()
        .transform((value) => value.split(',').map((entry) => entry.trim()).filter(Boolean))
        .refine((entries) => entries.every(isAddressOrRange), 'TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDR ranges')
        .optional(),
    ),
    // FLOW-11: dynamic client registration is off unless the operator opens it.
    REGISTRATION: z
      .enum(['off', 'initial-access-token', 'open'], { error: 'REGISTRATION must be off, initial-access-token or open' })
      .default('off'),
    REGISTRATION_GRANT_TYPES: listOf('REGISTRATION_GRANT_TYPES', GRANT_TYPES, 'authorization_code,refresh_token'),
    // Certificate methods only when the operator lists them: they need mutual TLS configured.
    REGISTRATION_AUTH_METHODS: listOf('REGISTRATION_AUTH_METHODS', AUTH_METHODS, 'client_secret_basic,client_secret_post,private_key_jwt,none'),
    REGISTRATION_SCOPES: optionalText.pipe(
      z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E\s,]+$/, 'REGISTRATION_SCOPES must be scope tokens separated by spaces or commas').optional(),
    ),
    REGISTRATION_REDIRECT_HOSTS: optionalText.pipe(
      z.string().regex(/^[A-Za-z0-9.*\-\s,:\[\]]+$/, 'REGISTRATION_REDIRECT_HOSTS must be host names (optionally *.domain) separated by spaces or commas').optional(),
    ),
    RATE_LIMIT_REGISTRATION_PER_HOUR: z.coerce.number().int().min(1).max(1_000_000).default(20),
    // MFA-3: "none", "all", or a comma-separated list of client ids whose sign-ins must be multi-factor.
    REQUIRE_MFA_FOR: optionalText.pipe(
      z
        .string()
        .regex(/^[A-Za-z0-9._~:@-]+(\s*,\s*[A-Za-z0-9._~:@-]+)*$/, 'REQUIRE_MFA_FOR must be none, all, or a comma-separated list of client ids')
        .optional(),
    ),
  })
  .superRefine((env, ctx) => {
    if (env.DATABASE_URL && !env.GATEHOUSE_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['GATEHOUSE_SECRET'],
        message: 'GATEHOUSE_SECRET is required when DATABASE_URL is set (every replica must share it)',
      });
    }
    if (!env.DATABASE_URL && typeof env.WORKERS === 'number' && env.WORKERS > 1) {
      ctx.addIssue({ code: 'custom', path: ['WORKERS'], message: 'WORKERS above 1 needs DATABASE_URL: the embedded database belongs to one process' });
    }
    if (env.SESSION_MAX_AGE < env.SESSION_IDLE_TIMEOUT) {
      ctx.addIssue({ code: 'custom', path: ['SESSION_MAX_AGE'], message: 'SESSION_MAX_AGE must be at least SESSION_IDLE_TIMEOUT' });
    }
    if (env.ISSUER?.startsWith('https://') && !env.TRUST_PROXY && !env.TLS_CERT_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['TRUST_PROXY'],
        message: 'an https ISSUER needs TRUST_PROXY=true (behind a TLS-terminating proxy, whose X-Forwarded-Proto sets Secure cookies) or TLS_CERT_FILE and TLS_KEY_FILE (Gatehouse serves TLS itself)',
      });
    }
    transportRules(env, ctx);
    if (env.KEY_PUBLISH_DELAY < env.JWKS_CACHE_MAX_AGE) {
      ctx.addIssue({
        code: 'custom',
        path: ['KEY_PUBLISH_DELAY'],
        message: 'KEY_PUBLISH_DELAY must be at least JWKS_CACHE_MAX_AGE, or relying parties may miss a new key',
      });
    }
  });

interface TransportSettings {
  ISSUER?: string | undefined;
  PORT: number;
  TLS_CERT_FILE?: string | undefined;
  TLS_KEY_FILE?: string | undefined;
  MTLS_PORT?: number | undefined;
  MTLS_CA_FILE?: string | undefined;
  MTLS_URL?: string | undefined;
  CLIENT_CERT_HEADER?: string | undefined;
  TRUSTED_PROXIES?: string[] | undefined;
}

/** NET-1 / FLOW-8: the TLS and mutual-TLS settings only make sense together in these shapes. */
function transportRules(env: TransportSettings, ctx: z.RefinementCtx): void {
  const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (Boolean(env.TLS_CERT_FILE) !== Boolean(env.TLS_KEY_FILE)) {
    problem(env.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE', 'TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  if (env.TLS_CERT_FILE && env.ISSUER && !env.ISSUER.startsWith('https://')) {
    problem('ISSUER', 'ISSUER must be an https URL when Gatehouse serves TLS (TLS_CERT_FILE is set)');
  }
  if (env.MTLS_PORT !== undefined && !env.TLS_CERT_FILE) problem('MTLS_PORT', 'MTLS_PORT needs TLS_CERT_FILE and TLS_KEY_FILE (the mTLS listener serves the same certificate)');
  if (env.MTLS_PORT !== undefined && env.MTLS_PORT === env.PORT) problem('MTLS_PORT', 'MTLS_PORT must differ from PORT: the main listener never asks for a client certificate');
  if (env.CLIENT_CERT_HEADER && !env.TRUSTED_PROXIES?.length) {
    problem('TRUSTED_PROXIES', 'CLIENT_CERT_HEADER needs TRUSTED_PROXIES: a forwarded certificate is believed only from those addresses');
  }
  if (env.TRUSTED_PROXIES?.length && !env.CLIENT_CERT_HEADER) problem('CLIENT_CERT_HEADER', 'TRUSTED_PROXIES is set but CLIENT_CERT_HEADER is not: name the header the proxy forwards the client certificate in');
  const mtls = env.MTLS_PORT !== undefined || Boolean(env.CLIENT_CERT_HEADER);
  if (env.MTLS_CA_FILE && !mtls) problem('MTLS_CA_FILE', 'MTLS_CA_FILE needs MTLS_PORT or CLIENT_CERT_HEADER (a way for client certificates to arrive)');
  if (env.MTLS_URL && !mtls) problem('MTLS_URL', 'MTLS_URL needs MTLS_PORT or CLIENT_CERT_HEADER');
}

/** An IPv4/IPv6 address, or one with a /prefix length that fits it. */
export function isAddressOrRange(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

export type Environment = z.infer<typeof environmentSchema>;

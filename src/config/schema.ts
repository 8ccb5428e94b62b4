/**
 * The one place the environment is read into a typed configuration.
 * Enforces: known variables only get parsed, every value is checked, every TTL is bounded,
 * and DATABASE_URL mode requires an explicit master secret.
 */
import { z } from 'zod';

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
    HOST: z.string().min(1).default('0.0.0.0'),
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
    RATE_LIMIT_SYNC_MS: z.coerce.number().int().min(0).max(10_000).default(100),
    LOGIN_FREE_FAILURES_PER_ACCOUNT_IP: z.coerce.number().int().min(1).max(1000).default(5),
    LOGIN_FREE_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(10_000).default(20),
    LOGIN_FREE_FAILURES_PER_IP: z.coerce.number().int().min(1).max(100_000).default(100),
    LOGIN_MAX_DELAY: seconds('LOGIN_MAX_DELAY', 15 * 60, 1, 24 * 3600),
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
    if (env.ISSUER?.startsWith('https://') && !env.TRUST_PROXY) {
      ctx.addIssue({
        code: 'custom',
        path: ['TRUST_PROXY'],
        message: 'an https ISSUER needs TRUST_PROXY=true: Gatehouse runs behind a TLS-terminating proxy and must trust its X-Forwarded-Proto to set Secure cookies',
      });
    }
    if (env.KEY_PUBLISH_DELAY < env.JWKS_CACHE_MAX_AGE) {
      ctx.addIssue({
        code: 'custom',
        path: ['KEY_PUBLISH_DELAY'],
        message: 'KEY_PUBLISH_DELAY must be at least JWKS_CACHE_MAX_AGE, or relying parties may miss a new key',
      });
    }
  });

export type Environment = z.infer<typeof environmentSchema>;

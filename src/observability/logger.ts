/**
 * Structured JSON logs (pino). Enforces SESS-5 and the house rule that no secret reaches a log
 * line: credentials, cookies and token-bearing fields are redacted wherever they appear, and
 * request lines carry the path without its query string (which may hold an id_token_hint).
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import pino, { type DestinationStream, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  // A DPoP proof is a credential until the server has seen it (RFC 9449): not for log files.
  'req.headers.dpop',
  'headers.dpop',
  '*.password',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.code_verifier',
  '*.token',
  '*.id_token_hint',
  'password',
  'client_secret',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gatehouse' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Asynchronous stdout: lines written while a write is in flight go out together (pino
    // flushes what is pending when the process exits).
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * The path as logged: without query string, and with per-interaction and per-session handles
 * replaced by placeholders (the interaction handle is also its cookie's value).
 */
export function loggablePath(path: string): string {
  return path
    .replace(/^\/interaction\/[^/]+/, '/interaction/:uid')
    .replace(/^\/auth\/[^/]+/, '/auth/:uid')
    .replace(/^\/account\/sessions\/[^/]+\/end$/, '/account/sessions/:handle/end');
}

function addressOf(ctx: { ip: string }): string | undefined {
  try {
    return ctx.ip;
  } catch {
    return undefined;
  }
}

/** One line per request: id, method, path (no query, no handles), status, duration. */
export function requestLogging(logger: Logger): Middleware {
  // The request line is built below from fields that never hold a secret (the path has no query
  // and no handles), so it skips the redaction pass, which costs more than the rest of the line.
  const requestLog = logger.child({}, { redact: { paths: [] } });
  return async (ctx, next) => {
    const started = performance.now();
    const incoming = ctx.get('x-request-id');
    const requestId = /^[A-Za-z0-9._-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    ctx.state['requestId'] = requestId;
    ctx.set('X-Request-Id', requestId);
    // Read while the socket is there (Koa keeps it): a request destroyed mid-body has no socket
    // afterwards, and the log line must never throw outside the error boundary.
    const ip = addressOf(ctx);
    try {
      await next();
    } finally {
      const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
      requestLog.info(
        {
          requestId,
          method: ctx.method,
          path: loggablePath(ctx.path),
          status,
          ms: Math.round((performance.now() - started) * 10) / 10,
          ip,
        },
        'request',
      );
    }
  };
}

/**
 * Recognises "the database cannot be reached right now" among errors (API-5): refused or reset
 * connections, a server shutting down or starting up, a pool that could not get a connection,
 * a closed embedded database. Such a request is answered 503 with Retry-After (not 500), and
 * the pool reconnects by itself once the database is back.
 */
import type { Logger } from 'pino';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);
// SQLSTATE: class 08 connection exceptions; admin/crash shutdown; "the database system is
// starting up / shutting down"; too many connections.
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_MESSAGES = /Connection terminated|connection error and is not queryable|Timeout acquiring a connection|PGlite is closed|Connection ended|the database system is (starting up|shutting down)/i;

/** How long a client is asked to wait before retrying (s). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const { code, message, name, cause, errors } = error as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true;
  if (name === 'KnexTimeoutError') return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true;
  if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}

/**
 * Logs the outage as `database_unavailable`, at most once a second with the number of refusals
 * in between: every refused request already has its request line. One reporter per logger, so
 * the error boundary and every provider instance (rebuilt on key rotation) share the budget.
 */
const reporters = new WeakMap<Logger, (detail: Record<string, unknown>) => void>();

export function outageReporter(logger: Logger): (detail: Record<string, unknown>) => void {
  let report = reporters.get(logger);
  if (!report) {
    report = throttledReport(logger);
    reporters.set(logger, report);
  }
  return report;
}

function throttledReport(logger: Logger): (detail: Record<string, unknown>) => void {
  let last = 0;
  let suppressed = 0;
  return (detail) => {
    const now = Date.now();
    if (now - last < 1000) {
      suppressed += 1;
      return;
    }
    logger.warn({ event: 'database_unavailable', ...detail, refusedSinceLastLine: suppressed }, 'database unavailable; answering 503');
    last = now;
    suppressed = 0;
  };
}

/**
 * knex's own log hooks (warn, error, deprecate, debug) routed to the service's logger (OPS-5):
 * one JSON line per event in pino's format and redaction instead of console text with stack
 * traces. Only the first line of a message is kept (knex appends stacks), and a query object
 * is reduced to its SQL text with placeholders — never its bindings, which hold user data.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';

const MAX_MESSAGE = 500;

function summary(message: unknown): Record<string, unknown> {
  if (typeof message === 'string') return { detail: (message.split('\n')[0] ?? '').slice(0, MAX_MESSAGE) };
  if (message instanceof Error) return { detail: message.message.split('\n')[0]?.slice(0, MAX_MESSAGE), code: (message as { code?: unknown }).code };
  if (message && typeof message === 'object') {
    const { sql, method } = message as { sql?: unknown; method?: unknown };
    return {
      ...(typeof method === 'string' ? { method } : {}),
      ...(typeof sql === 'string' ? { sql: sql.slice(0, MAX_MESSAGE) } : {}),
    };
  }
  return {};
}

export function knexLog(logger: Logger): NonNullable<Knex.Config['log']> {
  const log = logger.child({ component: 'knex' });
  return {
    warn: (message: unknown) => log.warn(summary(message), 'database client warning'),
    error: (message: unknown) => log.error(summary(message), 'database client error'),
    // knex passes its own sentence ("X is deprecated, please use Y"), whatever its types say.
    deprecate: (message: unknown) => log.warn(summary(message), 'database client deprecation'),
    debug: (message: unknown) => log.debug(summary(message), 'database client debug'),
  };
}

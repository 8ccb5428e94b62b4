/**
 * One clear line when PostgreSQL cannot be used at start (OPS-5): a single probe connection
 * before the pool exists, so neither the server nor the CLI prints knex's retry warnings and
 * stack traces for what is a setting or an outage. The URL is shown without its password.
 */
import pg from 'pg';

export class DatabaseUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnreachableError';
  }
}

function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

function reason(error: Error & { code?: string }): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused: is PostgreSQL running there?';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'ETIMEDOUT':
      return 'no answer (timed out)';
    case '28P01':
    case '28000':
      return 'the user name or password is wrong';
    case '3D000':
      return 'the database does not exist: create it first';
    default:
      return error.message;
  }
}

export async function assertDatabaseReachable(url: string, timeoutMs = 10_000): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A connection that fails after connecting would otherwise be an unhandled 'error' event.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new DatabaseUnreachableError(`cannot use the database at ${describeTarget(url)} (${reason(error as Error)}): check DATABASE_URL`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Fails fast, with the fix, when the PostgreSQL the tests need is not running. */
import pg from 'pg';
import { adminDatabaseUrl } from './databases.js';

export default async function globalSetup(): Promise<void> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl() });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `tests need PostgreSQL at ${adminDatabaseUrl()} (${(error as Error).message}); start it with: ` +
        'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

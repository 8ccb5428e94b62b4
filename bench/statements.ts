/**
 * `node --import tsx bench/statements.ts`: CPU per statement of the token path's look-up and
 * write, sent through knex.raw and as a prepared statement (src/db/hot-statements.ts), in one
 * process, interleaved in blocks so a busy minute on a shared machine falls on both alike.
 * Node's CPU comes from process.cpuUsage, PostgreSQL's from its backends' /proc/<pid>/stat.
 * Needs the PostgreSQL used by the tests (TEST_DATABASE_URL).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../src/db/index.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { FIND_RECORDS, HotStatements, WRITE_RECORDS, knexText } from '../src/db/hot-statements.js';
import { cpuSnapshot, cpuPerRequest } from './cpu.js';

const ADMIN_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BLOCK = 500;
const BLOCKS = Number(process.env['BENCH_BLOCKS'] ?? 8);

const name = `gatehouse_stmt_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(ADMIN_URL);
url.pathname = `/${name}`;
const db = await openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 2 });
try {
  await migrateToLatest(db);
  const hot = new HotStatements(db.knex);
  const id = randomBytes(16).toString('base64url');
  const record = () => JSON.stringify([{ model: 'ClientCredentials', id, payload: { jti: id, kind: 'ClientCredentials', scope: 'bench:read' }, grant_id: null, expires_at: new Date(Date.now() + 60_000).toISOString() }]);
  const wanted = JSON.stringify(['AccessToken', 'ClientCredentials', 'RefreshToken'].map((model) => ({ model, id })));
  const ways = {
    'find, knex.raw': () => db.knex.raw(knexText(FIND_RECORDS.text), [wanted, 2]),
    'find, prepared': () => hot.run(FIND_RECORDS, [wanted, 2]),
    'write, knex.raw': () => db.knex.raw(knexText(WRITE_RECORDS.text), [record()]),
    'write, prepared': () => hot.run(WRITE_RECORDS, [record()]),
  } as const;
  const totals = new Map<string, { node: number; database: number; count: number }>();
  for (let block = 0; block < BLOCKS; block += 1) {
    for (const [label, run] of Object.entries(ways)) {
      const before = cpuSnapshot(process.pid, name);
      const started = process.cpuUsage();
      for (let i = 0; i < BLOCK; i += 1) await run();
      const used = process.cpuUsage(started);
      const { databaseUs } = cpuPerRequest(before, cpuSnapshot(process.pid, name), BLOCK);
      if (block === 0) continue; // warm-up: connections, plans, JIT
      const total = totals.get(label) ?? { node: 0, database: 0, count: 0 };
      totals.set(label, { node: total.node + (used.user + used.system) / BLOCK, database: total.database + databaseUs, count: total.count + 1 });
    }
  }
  for (const [label, total] of totals) {
    process.stdout.write(`${label.padEnd(18)} Node ${(total.node / total.count).toFixed(1).padStart(6)} µs  PostgreSQL ${(total.database / total.count).toFixed(1).padStart(6)} µs per statement\n`);
  }
} finally {
  await db.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

/**
 * A real Gatehouse on an ephemeral port, on a real PostgreSQL (fresh database) or PGlite,
 * with its log lines captured for assertions.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { startGatehouse, type RunningGatehouse } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './databases.js';

export type DatabaseChoice = 'postgres' | 'embedded';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Where a test server keeps its data, so it can be restarted on the same database. */
export interface TestStorage {
  readonly kind: DatabaseChoice;
  readonly env: Record<string, string>;
  dispose(): Promise<void>;
}

export async function createTestStorage(kind: DatabaseChoice): Promise<TestStorage> {
  const secret = randomBytes(32).toString('base64url');
  if (kind === 'postgres') {
    const database: TestDatabase = await createTestDatabase();
    return { kind, env: { DATABASE_URL: database.url, GATEHOUSE_SECRET: secret }, dispose: () => database.drop() };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-test-'));
  return {
    kind,
    env: { GATEHOUSE_DATA_DIR: dir, GATEHOUSE_SECRET: secret },
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TestServer {
  readonly issuer: string;
  readonly config: Config;
  readonly gatehouse: RunningGatehouse;
  /** Every log line the server wrote, raw. */
  readonly logs: string[];
  stop(): Promise<void>;
}

export async function startTestServer(storage: TestStorage, env: Record<string, string> = {}): Promise<TestServer> {
  const port = await freePort();
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'info',
    KEY_PUBLISH_DELAY: '600',
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    // Two test files run at once, some with several servers: small pools keep them all under
    // PostgreSQL's default 100 connections.
    DB_POOL_MAX: '5',
    // The server shares its event loop with the test runner on a loaded 2-core machine: lag here
    // measures the test machine, not the server, and shed requests turned into 503s in unrelated
    // tests (a CI run's fuzz test). test/edge/overload.test.ts turns shedding on where it is tested.
    OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
    ...storage.env,
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const gatehouse = await startGatehouse(config, createLogger(config.logLevel, sink));
  return { issuer: config.issuer, config, gatehouse, logs, stop: () => gatehouse.close() };
}

/** The entries the server logged with `event`, parsed. */
export function loggedEvents(server: TestServer, event: string): Record<string, unknown>[] {
  return server.logs.join('').split('\n').filter((line) => line.includes(`"event":"${event}"`)).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The log lines that contain any of `secrets` (empty strings ignored): none, in a passing test. */
export function linesLeaking(server: TestServer, secrets: readonly string[]): string[] {
  const wanted = secrets.filter((secret) => secret.length > 0);
  return server.logs.join('').split('\n').filter((line) => wanted.some((secret) => line.includes(secret)));
}

/** One value of a counter on the server's metrics listener, 0 if it has none yet. */
export async function counterValue(server: TestServer, name: string, labels: string): Promise<number> {
  const text = await (await fetch(server.gatehouse.metricsUrl ?? '')).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

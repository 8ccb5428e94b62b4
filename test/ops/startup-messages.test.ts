/**
 * OPS-5 for operators and newcomers: a start that cannot work stops with one line that says
 * what is wrong and which setting or step fixes it — never a stack trace, never a silent
 * default. Each case is a real process.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SUPPORTED_NODE_RANGE, unsupportedNodeProblem } from '../../src/supported-node.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { runToEnd } from '../support/process.js';
import { freePort } from '../support/server.js';

// Every test here runs whole processes (a server start migrates and creates keys): on a busy
// two-core machine one can take tens of seconds.
vi.setConfig({ testTimeout: 90_000 });

const SERVER = 'src/main.ts';
const CLI = 'src/cli/main.ts';

/** The machine's older Node.js (Debian ships 20), if there is one. */
function olderNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      if (unsupportedNodeProblem(version)) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}
const node20 = olderNode();

describe('unsupported Node.js', () => {
  it('accepts the LTS lines oidc-provider 9 supports and refuses the rest', () => {
    for (const version of ['20.20.2', '22.11.0', '23.11.0', '25.1.0', '18.20.0']) expect(unsupportedNodeProblem(version)).toMatch(/is not supported/);
    for (const version of ['22.12.0', '22.20.1', '24.0.0', '24.22.3']) expect(unsupportedNodeProblem(version)).toBeUndefined();
    expect((JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node).toBe(SUPPORTED_NODE_RANGE);
    expect(readFileSync('.npmrc', 'utf8')).toMatch(/^engine-strict=true$/m);
  });

  it.runIf(node20)('server and CLI stop with one line before loading the engine', async () => {
    for (const [entry, args] of [[SERVER, []], [CLI, ['clients', 'list']]] as const) {
      const result = await runToEnd(entry, args, { GATEHOUSE_DATA_DIR: path.join(os.tmpdir(), 'gatehouse-never-created') }, { node: node20 ?? '' });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^gatehouse: Node\.js v20\.\d+\.\d+ is not supported: Gatehouse needs Node\.js 24 LTS \(or 22\.12\+ LTS\); install it and run again\n$/);
    }
  });

  it.runIf(node20)('npm refuses to install on it (engine-strict)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-engines-'));
    for (const name of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(name, path.join(dir, name));
    const npm = (binDir: string) => {
      try {
        execFileSync('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
          cwd: dir,
          env: { PATH: `${binDir}:/usr/bin:/bin`, HOME: os.homedir() },
          encoding: 'utf8',
          stdio: 'pipe',
        });
        return { ok: true, output: '' };
      } catch (error) {
        return { ok: false, output: String((error as { stderr?: string }).stderr) };
      }
    };
    const refused = npm(path.dirname(node20 ?? ''));
    expect(refused.ok).toBe(false);
    expect(refused.output).toMatch(/EBADENGINE|notsup/);
    expect(npm(path.dirname(process.execPath)).ok).toBe(true);
  }, 60_000);
});

describe('start-up problems', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('an unreachable database is one line, without knex warnings or a stack', async () => {
    const result = await runToEnd(SERVER, [], { DATABASE_URL: 'postgres://gatehouse:pw@127.0.0.1:1/gatehouse', GATEHOUSE_SECRET: 'x'.repeat(40) });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'gatehouse: failed to start: cannot use the database at 127.0.0.1:1/gatehouse (connection refused: is PostgreSQL running there?): check DATABASE_URL\n',
    );
  });

  it('bad settings: every problem on its own line, and the misspelt name that explains one', async () => {
    const result = await runToEnd(SERVER, [], { PORT: 'eighty', DATABASE_URL: database.url, SESION_IDLE_TIMEOUT: '600', SESSION_MAX_AGE: '60' });
    expect(result.code).toBe(78);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'gatehouse: PORT must be a number',
      expect.stringMatching(/^gatehouse: GATEHOUSE_SECRET is required when DATABASE_URL is set/),
      'gatehouse: SESSION_MAX_AGE must be at least SESSION_IDLE_TIMEOUT',
      'gatehouse: warning: SESION_IDLE_TIMEOUT is not a Gatehouse setting and is ignored: did you mean SESSION_IDLE_TIMEOUT?',
    ]);
  });

  it('a metrics port in use names METRICS_PORT and METRICS_PORT=off', async () => {
    const busy = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => busy.once('listening', resolve));
    const metricsPort = (busy.address() as net.AddressInfo).port;
    try {
      const result = await runToEnd(SERVER, [], { DATABASE_URL: database.url, GATEHOUSE_SECRET: 'a'.repeat(40), METRICS_PORT: String(metricsPort) }, { port: await freePort() });
      expect(result.code).toBe(78);
      expect(result.stderr).toBe(
        `gatehouse: METRICS_PORT: 127.0.0.1:${metricsPort} is already in use (another Gatehouse on this host?): give each process its own METRICS_PORT, or METRICS_PORT=off\n`,
      );
      // With workers, the cluster's primary serves the metrics: the same line, and no worker left behind.
      const cluster = await runToEnd(SERVER, [], { DATABASE_URL: database.url, GATEHOUSE_SECRET: 'a'.repeat(40), METRICS_PORT: String(metricsPort), WORKERS: '2' }, { port: await freePort() });
      expect(cluster.code).toBe(78);
      expect(cluster.stderr).toBe(result.stderr);
    } finally {
      busy.close();
    }
  });

  it('a wrong master secret says which secret and what to do', async () => {
    // The previous test set the database up (migrations, keys) with 'a' * 40.
    const result = await runToEnd(SERVER, [], { DATABASE_URL: database.url, GATEHOUSE_SECRET: randomBytes(32).toString('base64url') }, { port: await freePort() });
    expect(result.code).toBe(78);
    expect(result.stderr).toBe(
      'gatehouse: GATEHOUSE_SECRET is not the master secret this database was set up with: its signing keys do not open with it. Set GATEHOUSE_SECRET to the original value (every replica and the CLI must use the same one)\n',
    );
  });
});

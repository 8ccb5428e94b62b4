/**
 * `npm run bench`: real HTTP load (autocannon, in this process) against servers in their own
 * processes — bare oidc-provider (the baseline), Gatehouse on PostgreSQL with 1 and 2 workers,
 * and Gatehouse on PGlite — with the same client, API and key type. Warm-up is discarded; each
 * scenario runs several rounds and the median round is reported, with its ratio to the baseline.
 *
 * Settings (environment): BENCH_DURATION (s, default 5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32),
 * BENCH_TARGETS (comma list: baseline,pg-w1,pg-w2,pglite), TEST_DATABASE_URL (admin connection),
 * BENCH_SCENARIOS (comma list of ids: cc-jwt,cc-opaque,cc-mtls,introspection,discovery,jwks,refresh,
 * userinfo,sign-in; default all), BENCH_PROFILE=1 (servers run under --cpu-prof; summaries go to bench/results/profiles.md and
 * the slowed-down figures are printed, not saved as the latest results).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { BENCH_API, BENCH_CLIENT, BENCH_MTLS_CLIENT, BENCH_MTLS_DNS, BENCH_PASSWORD, BENCH_SCOPES, BENCH_SECRET, BENCH_SPA, BENCH_SPA_REDIRECT, BENCH_USER } from './fixtures.js';
import { loginRate, refreshRate, signIn, type UserTokens } from './user-flows.js';
import { renderChart, renderMarkdown, type Row } from './report.js';
import { SCENARIOS, prepareContext, type Scenario, type ScenarioContext } from './scenarios.js';
import { SERVER_NODE_FLAGS } from '../src/runtime-flags.js';
import { FORWARDED_CERT_HEADER, createBenchCertificates, type BenchCertificates } from './mtls.js';
import { summarizeProfiles } from './profile.js';

const env = process.env;
const DURATION = Number(env['BENCH_DURATION'] ?? 5);
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3);
const CONNECTIONS = Number(env['BENCH_CONNECTIONS'] ?? 32);
const TARGETS = (env['BENCH_TARGETS'] ?? 'baseline,pg-w1,pg-w2,pglite').split(',');
const ADMIN_URL = env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROOT = path.resolve(import.meta.dirname, '..');
const PROFILE = env['BENCH_PROFILE'] === '1';
const SELECTED = env['BENCH_SCENARIOS']?.split(',');
const selected = (id: string) => !SELECTED || SELECTED.includes(id);

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

async function waitFor(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function start(command: string[], extraEnv: Record<string, string>, readyPath: string, port: number): Promise<Server> {
  const child = spawn(process.execPath, command, { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  return waitFor(`${url}${readyPath}`, child).then(() => ({
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  }));
}

/** Node flags that make a server write a CPU profile into `dir` when it exits. */
function profiling(dir: string, target: string): string[] {
  return PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'profiles', target)}`] : [];
}

function runCli(args: string[], extraEnv: Record<string, string>, input?: string): void {
  const { status } = spawnSync(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), ...args], {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    input: input ?? '',
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  if (status !== 0) throw new Error(`gatehouse ${args.join(' ')} failed`);
}

/** Resident memory of a process and its children (cluster workers), in bytes. */
function treeRss(pid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (Number(entry) !== pid && ppid !== pid) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      total += Number(rss ?? 0) * 1024;
    } catch {
      // the process went away
    }
  }
  return total;
}

async function load(server: Server, scenario: Scenario, context: ScenarioContext, seconds: number) {
  return autocannon({
    url: `${server.url}${scenario.path}`,
    method: scenario.method,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { ...scenario.headers, ...scenario.contextHeaders?.(context) },
    ...(scenario.body ? { body: scenario.body(context) } : {}),
  });
}

async function measure(target: string, server: Server, certificates?: BenchCertificates): Promise<Row[]> {
  const context = await prepareContext(server.url, certificates?.forwarded);
  const rows: Row[] = [];
  // The baseline has no mutual TLS: a scenario that needs context it lacks is left out for it.
  const runnable = (scenario: Scenario) => !scenario.contextHeaders || scenario.contextHeaders(context) !== undefined;
  for (const scenario of SCENARIOS.filter((candidate) => selected(candidate.id) && runnable(candidate))) {
    await load(server, scenario, context, Math.min(2, DURATION));
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, treeRss(server.child.pid ?? 0))), 200);
    const rounds = [];
    for (let round = 0; round < ROUNDS; round += 1) rounds.push(await load(server, scenario, context, DURATION));
    clearInterval(sampler);
    rounds.sort((a, b) => a.requests.average - b.requests.average);
    const median = rounds[Math.floor(rounds.length / 2)];
    if (!median) continue;
    const failed = median.non2xx + median.errors;
    rows.push({
      target,
      scenario: scenario.name,
      rps: Math.round(median.requests.average),
      p50: median.latency.p50,
      p99: median.latency.p99,
      rssMiB: Math.round(peak / 1024 / 1024),
      failed,
    });
    report(rows.at(-1));
  }
  if (['refresh', 'userinfo', 'sign-in'].some(selected)) rows.push(...(await measureUserFlows(target, server)));
  return rows;
}

function report(row: Row | undefined): void {
  if (!row) return;
  process.stderr.write(`${row.target.padEnd(8)} ${row.scenario.padEnd(36)} ${String(row.rps).padStart(6)}/s  p99 ${row.p99} ms  ${row.failed ? `(${row.failed} failed)` : ''}\n`);
}

/** Scenarios that need signed-in users: refresh-token grant, userinfo, and whole sign-ins. */
async function measureUserFlows(target: string, server: Server): Promise<Row[]> {
  const users: UserTokens[] = [];
  for (let i = 0; i < CONNECTIONS; i += 4) users.push(...(await Promise.all([0, 1, 2, 3].map(() => signIn(server.url)))));
  const rows: Row[] = [];
  const sample = async (id: string, name: string, run: (seconds: number) => Promise<{ rps: number; p50: number; p99: number; failed: number }>) => {
    if (!selected(id)) return;
    await run(Math.min(2, DURATION));
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, treeRss(server.child.pid ?? 0))), 200);
    const rounds = [];
    for (let round = 0; round < ROUNDS; round += 1) rounds.push(await run(DURATION));
    clearInterval(sampler);
    rounds.sort((a, b) => a.rps - b.rps);
    const median = rounds[Math.floor(rounds.length / 2)];
    if (!median) return;
    rows.push({ target, scenario: name, rps: Math.round(median.rps * 10) / 10, p50: median.p50, p99: median.p99, rssMiB: Math.round(peak / 2 ** 20), failed: median.failed });
    report(rows.at(-1));
  };
  // One rotating chain per worker; each round continues the chains where the last one left them.
  const chains = users.map((user) => user.refreshToken);
  await sample('refresh', 'refresh-token grant (rotating)', async (seconds) => {
    const result = await refreshRate(server.url, chains, seconds);
    return { rps: result.perSecond, p50: result.p50, p99: result.p99, failed: result.failed };
  });
  // A user of its own, so the refresh chains' grants do not matter here.
  const { accessToken } = await signIn(server.url);
  await sample('userinfo', 'userinfo', async (seconds) => {
    const result = await autocannon({ url: `${server.url}/me`, connections: CONNECTIONS, duration: seconds, headers: { authorization: `Bearer ${accessToken}` } });
    return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, failed: result.non2xx + result.errors };
  });
  await sample('sign-in', 'complete sign-ins (login, consent, code)', async (seconds) => {
    const result = await loginRate(server.url, 8, seconds);
    return { rps: result.perSecond, p50: result.p50, p99: result.p99, failed: result.failed };
  });
  return rows;
}

async function withDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `gatehouse_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

function registerFixtures(extraEnv: Record<string, string>, dir: string): void {
  const apis = path.join(dir, 'apis.json');
  const clients = path.join(dir, 'clients.json');
  writeFileSync(apis, JSON.stringify([{ identifier: BENCH_API, name: 'Bench API', scopes: BENCH_SCOPES.split(' '), token_format: 'jwt', access_token_ttl: 900, signing_alg: 'ES256' }]));
  writeFileSync(
    clients,
    JSON.stringify([
      { client_id: BENCH_CLIENT, client_secret: BENCH_SECRET, grant_types: ['client_credentials'], scope: BENCH_SCOPES },
      {
        client_id: BENCH_MTLS_CLIENT,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_san_dns: BENCH_MTLS_DNS,
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        scope: BENCH_SCOPES,
      },
      {
        client_id: BENCH_SPA,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [BENCH_SPA_REDIRECT],
        scope: 'openid offline_access',
      },
    ]),
  );
  // The CLI migrates only when asked (the server migrates at start).
  runCli(['migrate'], extraEnv);
  runCli(['apis', 'import', apis], extraEnv);
  runCli(['clients', 'import', clients], extraEnv);
  runCli(['users', 'create', BENCH_USER, '--password-stdin'], extraEnv, BENCH_PASSWORD);
}

async function gatehouse(target: string, port: number, dir: string, database: { url?: string; workers: number }): Promise<Row[]> {
  const certificates = createBenchCertificates(dir);
  const common = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    GATEHOUSE_SECRET: randomBytes(32).toString('base64url'),
    WORKERS: String(database.workers),
    METRICS_PORT: 'off',
    LOG_LEVEL: 'info',
    // Limits stay on, high enough that the load generator (one address) is never refused.
    RATE_LIMIT_IP_PER_MINUTE: '10000000',
    RATE_LIMIT_CLIENT_PER_MINUTE: '10000000',
    // Every benchmark sign-in is the same user: keep all their sessions (and refresh chains) alive.
    MAX_SESSIONS_PER_ACCOUNT: '1000',
    // cc-mtls: the load generator forwards a client certificate as a trusted proxy would.
    CLIENT_CERT_HEADER: FORWARDED_CERT_HEADER,
    TRUSTED_PROXIES: '127.0.0.1',
    MTLS_CA_FILE: certificates.caFile,
  };
  const extraEnv = database.url ? { ...common, DATABASE_URL: database.url } : { ...common, GATEHOUSE_DATA_DIR: path.join(dir, `data-${target}`) };
  registerFixtures(extraEnv, dir);
  // Started the way `npm start` starts it.
  const server = await start([...SERVER_NODE_FLAGS, ...profiling(dir, target), path.join(ROOT, 'dist/src/main.js')], extraEnv, '/readyz', port);
  try {
    return await measure(target, server, certificates);
  } finally {
    await server.stop();
  }
}

function writeProfileSummaries(dir: string): void {
  const sections = TARGETS.filter((target) => existsSync(path.join(dir, 'profiles', target))).map((target) =>
    summarizeProfiles(path.join(dir, 'profiles', target), target),
  );
  const header = `# CPU profiles, ${new Date().toISOString()}\n\nSelf time per main thread over the whole run (start-up, warm-up and the scenarios run: ${SELECTED?.join(', ') ?? 'all'}), as shares of all samples, idle included.\n\n`;
  writeFileSync(path.join(ROOT, 'bench/results/profiles.md'), header + sections.join('\n'));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
  const rows: Row[] = [];
  let port = 4600;
  try {
    if (TARGETS.includes('baseline')) {
      const args = [...profiling(dir, 'baseline'), '--import', 'tsx', path.join(ROOT, 'bench/baseline-server.ts'), String(++port)];
      const server = await start(args, {}, '/.well-known/openid-configuration', port);
      try {
        rows.push(...(await measure('baseline', server)));
      } finally {
        await server.stop();
      }
    }
    for (const workers of [1, 2]) {
      if (!TARGETS.includes(`pg-w${workers}`)) continue;
      rows.push(...(await withDatabase((url) => gatehouse(`pg-w${workers}`, ++port, dir, { url, workers }))));
    }
    if (TARGETS.includes('pglite')) rows.push(...(await gatehouse('pglite', ++port, dir, { workers: 1 })));
    if (PROFILE) writeProfileSummaries(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.availableParallelism(), model: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    settings: { durationSeconds: DURATION, rounds: ROUNDS, connections: CONNECTIONS },
    rows,
  };
  const markdown = renderMarkdown(report);
  if (PROFILE) {
    process.stdout.write(markdown);
    return;
  }
  const out = path.join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(out, 'latest.md'), markdown);
  writeFileSync(path.join(out, 'latest.svg'), renderChart(rows));
  process.stdout.write(markdown);
}

await main();

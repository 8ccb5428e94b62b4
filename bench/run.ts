/**
 * `npm run bench`: real HTTP load (autocannon, in this process) against servers in their own
 * processes — bare oidc-provider (the baseline), Gatehouse on PostgreSQL with 1 and 2 workers,
 * and Gatehouse on PGlite — with the same client, API and key type. Warm-up is discarded; each
 * scenario runs several rounds and the median round is reported, with its ratio to the baseline.
 *
 * Settings (environment): BENCH_DURATION (s, default 5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32),
 * BENCH_TARGETS (comma list: baseline,pg-w1,pg-w2,pglite, and ref-w1: BENCH_REFERENCE's build — another
 * checkout — on PostgreSQL with one worker, for before/after in one run), TEST_DATABASE_URL (admin connection),
 * BENCH_SCENARIOS (comma list of ids: cc-jwt,cc-opaque,cc-mtls,introspection,discovery,jwks,refresh,
 * userinfo,sign-in; default all), BENCH_PROFILE=1 (servers run under --cpu-prof; summaries go to bench/results/profiles.md and
 * the slowed-down figures are printed, not saved as the latest results), BENCH_REPEAT (1: run the
 * targets this many times, interleaved, and report medians), BENCH_RATE (req/s: a fixed offered load
 * for the autocannon scenarios instead of as many as the server answers), BENCH_PIN=0 (no `taskset`:
 * by default, on ≥ 2 cores, the load generator runs on core 0 and each server on the others).
 * Every figure comes with the CPU time per request of the server's processes and of the
 * PostgreSQL backends serving it (bench/cpu.ts), the figure to trust on shared cores.
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
import { selfTimes, sideBySide, summarizeProfiles } from './profile.js';
import { cpuPerRequest, cpuSnapshot, onCores, placeLoadGenerator } from './cpu.js';

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
const PLACEMENT = placeLoadGenerator(env['BENCH_PIN'] !== '0');
const REPEATS = Number(env['BENCH_REPEAT'] ?? 1);
// A fixed offered load (req/s over all connections) instead of as fast as possible: CPU per
// request depends on load (batching, event-loop turns), so targets compare best at the same rate.
const RATE = env['BENCH_RATE'] ? Number(env['BENCH_RATE']) : undefined;

const middle = <T>(values: readonly T[], by: (value: T) => number): T | undefined => [...values].sort((a, b) => by(a) - by(b))[Math.floor(values.length / 2)];

/** One row per target and scenario: the median repeat's throughput, the median CPU per request, the highest RSS. */
function mergeRepeats(rows: readonly Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) groups.set(`${row.target}\u0000${row.scenario}`, [...(groups.get(`${row.target}\u0000${row.scenario}`) ?? []), row]);
  return [...groups.values()].map((group) => {
    const median = middle(group, (row) => row.rps) ?? (group[0] as Row);
    const cpu = middle(group, (row) => row.cpuUs ?? 0);
    return {
      ...median,
      rssMiB: Math.max(...group.map((row) => row.rssMiB)),
      ...(cpu?.cpuUs !== undefined ? { cpuUs: cpu.cpuUs } : {}),
      ...(cpu?.dbCpuUs !== undefined ? { dbCpuUs: cpu.dbCpuUs } : {}),
      ...(group.length > 1 ? { repeats: group.length } : {}),
    };
  });
}

interface Server {
  readonly target: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** The PostgreSQL database it serves from, whose backends' CPU is counted too. */
  readonly database: string | undefined;
  /** The cores it was pinned to (undefined: all). */
  readonly cores: string | undefined;
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

function start(command: string[], extraEnv: Record<string, string>, readyPath: string, port: number, placement: { target: string; cores: string | undefined; database?: string }): Promise<Server> {
  const [file = process.execPath, ...args] = onCores(placement.cores, [process.execPath, ...command]);
  const child = spawn(file, args, { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  return waitFor(`${url}${readyPath}`, child).then(() => ({
    target: placement.target,
    url,
    child,
    database: placement.database,
    cores: placement.cores,
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
  // No /proc (not Linux): memory is not reported.
  const entries = existsSync('/proc') ? readdirSync('/proc') : [];
  for (const entry of entries) {
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

/** Requests each target served in the autocannon scenarios (warm-up included), for CPU profiles per request. */
const served = new Map<string, number>();

async function load(server: Server, scenario: Scenario, context: ScenarioContext, seconds: number) {
  const result = await autocannon({
    url: `${server.url}${scenario.path}`,
    method: scenario.method,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { ...scenario.headers, ...scenario.contextHeaders?.(context) },
    ...(RATE ? { overallRate: RATE } : {}),
    ...(scenario.body ? { body: scenario.body(context) } : {}),
  });
  served.set(server.target, (served.get(server.target) ?? 0) + result.requests.total);
  return result;
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
    for (let round = 0; round < ROUNDS; round += 1) {
      const [result, cpu] = await withCpu(server, () => load(server, scenario, context, DURATION), (done) => done.requests.total);
      rounds.push({ result, cpu });
    }
    clearInterval(sampler);
    rounds.sort((a, b) => a.result.requests.average - b.result.requests.average);
    const median = rounds[Math.floor(rounds.length / 2)];
    if (!median) continue;
    const failed = median.result.non2xx + median.result.errors;
    rows.push({
      target,
      scenario: scenario.name,
      rps: Math.round(median.result.requests.average),
      p50: median.result.latency.p50,
      p99: median.result.latency.p99,
      rssMiB: Math.round(peak / 1024 / 1024),
      failed,
      ...cpuFigures(rounds.map((round) => round.cpu), server),
    });
    report(rows.at(-1));
  }
  if (['refresh', 'userinfo', 'sign-in'].some(selected)) rows.push(...(await measureUserFlows(target, server)));
  return rows;
}

/** Runs a round and the CPU the server (and its database backends) spent on each of its requests. */
async function withCpu<T>(server: Server, run: () => Promise<T>, requests: (result: T) => number): Promise<[T, { serverUs: number; databaseUs: number }]> {
  const pid = server.child.pid ?? 0;
  const before = cpuSnapshot(pid, server.database);
  const result = await run();
  return [result, cpuPerRequest(before, cpuSnapshot(pid, server.database), requests(result))];
}

/**
 * The median of the rounds' CPU per request (each round's own, not the median round's: CPU per
 * request varies much less than throughput on shared cores, and the median of it is steadier).
 */
function cpuFigures(cpu: readonly { serverUs: number; databaseUs: number }[], server: Server): Pick<Row, 'cpuUs' | 'dbCpuUs' | 'cores'> {
  // Nothing counted at all: no /proc here (the figures would be zeros, not measurements).
  if (cpu.every((round) => round.serverUs === 0)) return { cores: server.cores ?? 'all' };
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    cpuUs: median(cpu.map((round) => round.serverUs)),
    ...(server.database ? { dbCpuUs: median(cpu.map((round) => round.databaseUs)) } : {}),
    cores: server.cores ?? 'all',
  };
}

function report(row: Row | undefined): void {
  if (!row) return;
  const cpu = `${row.cpuUs ?? '?'} µs CPU${row.dbCpuUs !== undefined ? ` + ${row.dbCpuUs} µs PostgreSQL` : ''}`;
  process.stderr.write(`${row.target.padEnd(8)} ${row.scenario.padEnd(36)} ${String(row.rps).padStart(6)}/s  p99 ${row.p99} ms  ${cpu}  ${row.failed ? `(${row.failed} failed)` : ''}\n`);
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
    const cpu = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const [result, spent] = await withCpu(server, () => run(DURATION), (done) => done.rps * DURATION);
      rounds.push(result);
      cpu.push(spent);
    }
    clearInterval(sampler);
    rounds.sort((a, b) => a.rps - b.rps);
    const median = rounds[Math.floor(rounds.length / 2)];
    if (!median) return;
    rows.push({
      target,
      scenario: name,
      rps: Math.round(median.rps * 10) / 10,
      p50: median.p50,
      p99: median.p99,
      rssMiB: Math.round(peak / 2 ** 20),
      failed: median.failed,
      ...cpuFigures(cpu, server),
    });
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

async function withDatabase<T>(work: (url: string, name: string) => Promise<T>): Promise<T> {
  const name = `gatehouse_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString(), name);
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

async function gatehouse(target: string, port: number, dir: string, database: { url?: string; name?: string; workers: number; dataSuffix?: string; root?: string }): Promise<Row[]> {
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
  const extraEnv = database.url ? { ...common, DATABASE_URL: database.url } : { ...common, GATEHOUSE_DATA_DIR: path.join(dir, `data-${target}${database.dataSuffix ?? ''}`) };
  registerFixtures(extraEnv, dir);
  // Started the way `npm start` starts it.
  const server = await start([...SERVER_NODE_FLAGS, ...profiling(dir, target), path.join(database.root ?? ROOT, 'dist/src/main.js')], extraEnv, '/readyz', port, {
    target,
    cores: PLACEMENT.serverCores(database.workers),
    ...(database.name ? { database: database.name } : {}),
  });
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
  // Per request, side by side: meaningful when only autocannon scenarios ran (user flows are not counted).
  const profiled = TARGETS.filter((target) => existsSync(path.join(dir, 'profiles', target)) && served.has(target)).map((target) => ({
    target,
    ...selfTimes(path.join(dir, 'profiles', target)),
    requests: served.get(target) ?? 0,
  }));
  const compared = profiled.length ? `## Side by side, µs of self time per request (every process of a target)\n\n${sideBySide(profiled)}\n` : '';
  writeFileSync(path.join(ROOT, 'bench/results/profiles.md'), header + compared + sections.join('\n'));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
  const rows: Row[] = [];
  let port = 4600;
  const runTarget = async (target: string, repeat: number): Promise<Row[]> => {
    if (target === 'baseline') {
      const args = [...profiling(dir, 'baseline'), '--import', 'tsx', path.join(ROOT, 'bench/baseline-server.ts'), String(++port)];
      const server = await start(args, {}, '/.well-known/openid-configuration', port, { target: 'baseline', cores: PLACEMENT.serverCores(1) });
      try {
        return await measure('baseline', server);
      } finally {
        await server.stop();
      }
    }
    const workers = /^pg-w(\d)$/.exec(target)?.[1];
    if (workers) return withDatabase((url, name) => gatehouse(target, ++port, dir, { url, name, workers: Number(workers) }));
    if (target === 'pglite') return gatehouse('pglite', ++port, dir, { workers: 1, dataSuffix: String(repeat) });
    if (target === 'ref-w1') {
      // Another checkout's build (e.g. the commit before a change), measured in the same run.
      const root = env['BENCH_REFERENCE'];
      if (!root || !existsSync(path.join(root, 'dist/src/main.js'))) throw new Error('ref-w1 needs BENCH_REFERENCE=<a checkout with a build in dist/>');
      return withDatabase((url, name) => gatehouse(target, ++port, dir, { url, name, workers: 1, root }));
    }
    throw new Error(`unknown target ${target} (baseline, pg-w1, pg-w2, pglite, ref-w1)`);
  };
  try {
    // Repeats interleave the targets (a, b, a, b), so a quiet or a busy minute on a shared
    // machine falls on every target alike.
    for (let repeat = 0; repeat < REPEATS; repeat += 1) for (const target of TARGETS) rows.push(...(await runTarget(target, repeat)));
    if (PROFILE) writeProfileSummaries(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const report = {
    date: new Date().toISOString(),
    // Not availableParallelism(): this process is pinned to one core by now.
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    settings: { durationSeconds: DURATION, rounds: ROUNDS, connections: CONNECTIONS, loadGeneratorCores: PLACEMENT.loadGenerator ?? 'all', repeats: REPEATS, ...(RATE ? { rate: RATE } : {}) },
    rows: mergeRepeats(rows),
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

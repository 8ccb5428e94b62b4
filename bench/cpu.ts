/**
 * CPU time per request, the figure that compares across runs and machines better than req/s
 * on shared cores: user + system time of the server's process tree (the process and its cluster
 * workers) and of the PostgreSQL backends serving the bench database, read from /proc before and
 * after each round. Also where the load generator and the servers run (`taskset`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime in clock ticks. */
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces: state ppid ... utime(14) stime(15).
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined; // the process went away
  }
}

/** Every process id, or none where there is no /proc (not Linux): CPU figures are then left out. */
function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU ticks per process: the server and its descendants, and PostgreSQL backends of `database`. */
export interface CpuSnapshot {
  readonly server: ReadonlyMap<number, number>;
  readonly database: ReadonlyMap<number, number>;
}

export function cpuSnapshot(serverPid: number, database: string | undefined): CpuSnapshot {
  const stats = allPids()
    .map(readStat)
    .filter((stat): stat is ProcStat => stat !== undefined);
  const tree = new Set([serverPid]);
  // Cluster workers are children of the primary; two passes cover grandchildren too.
  for (let pass = 0; pass < 2; pass += 1) for (const stat of stats) if (tree.has(stat.ppid)) tree.add(stat.pid);
  const server = new Map(stats.filter((stat) => tree.has(stat.pid)).map((stat) => [stat.pid, stat.ticks]));
  const backends = new Map<number, number>();
  if (database) {
    for (const stat of stats) {
      try {
        // A backend's title: "postgres: 15/main: postgres <database> 127.0.0.1(port) idle".
        if (readFileSync(`/proc/${stat.pid}/cmdline`, 'utf8').includes(` ${database} `)) backends.set(stat.pid, stat.ticks);
      } catch {
        // gone
      }
    }
  }
  return { server, database: backends };
}

const spent = (before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>) =>
  [...after].reduce((sum, [pid, ticks]) => sum + ticks - (before.get(pid) ?? 0), 0);

/** µs of CPU per request between two snapshots. */
export function cpuPerRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number): { serverUs: number; databaseUs: number } {
  if (requests <= 0) return { serverUs: 0, databaseUs: 0 };
  return {
    serverUs: Math.round((spent(before.server, after.server) * TICK_US) / requests),
    databaseUs: Math.round((spent(before.database, after.database) * TICK_US) / requests),
  };
}

/**
 * Cores for the load generator and the servers. With ≥ 2 cores the load generator (this process,
 * all its threads) gets core 0 and the servers the rest, so neither steals the other's core; on
 * one core nothing is pinned. PostgreSQL (a system service) is not pinned.
 */
export interface Placement {
  /** Cores the load generator runs on, or undefined when nothing is pinned. */
  readonly loadGenerator: string | undefined;
  /**
   * Cores for a server with `workers` processes: the ones the load generator leaves, when there
   * are at least as many as workers; otherwise every core (the server then shares core 0).
   */
  serverCores(workers: number): string | undefined;
}

export function placeLoadGenerator(enabled: boolean): Placement {
  const cores = os.availableParallelism();
  const none: Placement = { loadGenerator: undefined, serverCores: () => undefined };
  if (!enabled || cores < 2) return none;
  const result = spawnSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  if (result.status !== 0) return none;
  return {
    loadGenerator: '0',
    serverCores: (workers) => (cores - 1 >= workers ? (cores === 2 ? '1' : `1-${cores - 1}`) : undefined),
  };
}

/** The command that starts a server on its cores. */
export function onCores(cores: string | undefined, command: readonly string[]): string[] {
  return cores ? ['taskset', '-c', cores, ...command] : [...command];
}

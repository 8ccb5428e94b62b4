/** A Gatehouse server as a separate operating-system process, the way an operator runs replicas. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface GatehouseProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The test defaults, overridden by `env`; a variable given as undefined is left unset. */
function serverEnvironment(env: Record<string, string | undefined>, port: number): Record<string, string> {
  const merged: Record<string, string | undefined> = { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', METRICS_PORT: 'off', WORKERS: '1', ...env };
  return Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export async function spawnGatehouse(env: Record<string, string | undefined>, port: number): Promise<GatehouseProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], {
    env: serverEnvironment(env, port),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gatehouse exited early (${child.exitCode}): ${output}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gatehouse did not become ready: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface FinishedProcess {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a Gatehouse entry point (`src/main.ts`, `src/cli/main.ts`) to its end: for starts that
 * must fail, and CLI commands. `node` is the runtime (default: the one running the tests).
 */
export function runToEnd(
  entry: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
  options: { node?: string; stdin?: string; port?: number; timeoutMs?: number } = {},
): Promise<FinishedProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, ['--import', 'tsx', path.resolve(entry), ...args], {
      env: serverEnvironment(env, options.port ?? 0),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 80_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/**
 * Runs one command and captures what it prints, so the CLI process and the server that owns
 * the embedded database produce the same output and exit code for the same command.
 * Exit codes: 0 ok, 1 failure, 2 usage, 65 invalid input, 69 embedded database in use,
 * 78 configuration (settings, master secret, database not migrated).
 */
import type { LiveProvider } from '../provider/live.js';
import type { Services } from '../services.js';
import type { CommandSpec } from './commands.js';
import { createOutput } from './output.js';

/** A command as it travels from the CLI process: everything already read from files and stdin. */
export interface CommandRequest {
  readonly command: string;
  readonly target?: string | undefined;
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  readonly input?: unknown;
  /** The parsed JSON files named by the spec's `fileOptions`, by option name. */
  readonly files?: Readonly<Record<string, unknown>>;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandSession {
  readonly services: Services;
  /** Migrations applied while opening the database for this command (none inside a running server). */
  readonly migrationsApplied?: readonly string[];
  provider(): Promise<LiveProvider>;
}

// By name rather than instanceof: this module stays light enough for `gatehouse --help`.
const EXIT_CODES: Readonly<Record<string, number>> = {
  UsageError: 2,
  ValidationError: 65,
  DataDirInUseError: 69,
  ConfigError: 78,
  NotMigratedError: 78,
};

export function failure(error: unknown, json: boolean): CommandResult {
  const { name, message, problems, code } = error as Error & { problems?: unknown; code?: unknown };
  const lines = Array.isArray(problems) ? problems.map(String) : [String(message ?? error)];
  const exit = EXIT_CODES[name] ?? (code === 'ENOENT' ? 65 : 1);
  const stderr = json ? `${JSON.stringify({ error: lines })}\n` : lines.map((line) => `gatehouse: ${line}\n`).join('');
  return { code: exit, stdout: '', stderr };
}

export async function runCommand(spec: CommandSpec, request: CommandRequest, session: CommandSession): Promise<CommandResult> {
  const json = Boolean(request.flags['json']);
  let stdout = '';
  let stderr = '';
  const out = createOutput(
    json,
    (text) => {
      stdout += text;
    },
    (text) => {
      stderr += text;
    },
  );
  try {
    const handler = await spec.handler();
    await handler({
      services: session.services,
      migrationsApplied: session.migrationsApplied ?? [],
      provider: () => session.provider(),
      target: request.target,
      flags: request.flags,
      input: request.input,
      files: request.files ?? {},
      out,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = failure(error, json);
    return { ...failed, stdout, stderr: stderr + failed.stderr };
  }
}

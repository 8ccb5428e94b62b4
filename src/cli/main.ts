#!/usr/bin/env node
/**
 * The `gatehouse` command. Thin: checks the runtime, parses its arguments (answering help,
 * version and usage errors without loading the engine or opening the database), reads the
 * command's input, then runs the command: inside the server that owns the embedded database if
 * one is running, else here against the database. Commands are listed in commands.ts.
 */
import '../require-supported-node.js';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { COMMANDS, findCommand, usageText, type CommandSpec } from './commands.js';
import { UsageError } from './output.js';
import { failure, runCommand, type CommandRequest, type CommandResult } from './run-command.js';
import type { Config } from '../config/index.js';

type Flags = Record<string, string | boolean | undefined>;

const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  'password-stdin': { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

function allOptions(): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = { ...GLOBAL_OPTIONS };
  for (const command of COMMANDS) for (const [name, option] of Object.entries(command.options ?? {})) options[name] = { type: option.type };
  return options;
}

function version(): string {
  // src/cli (tsx) or dist/src/cli (built): the nearest package.json above is Gatehouse's.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return 'unknown';
      dir = parent;
    }
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** What the command reads from the operator's side: files relative to here, stdin. */
async function readInput(spec: CommandSpec, target: string | undefined, flags: Flags): Promise<unknown> {
  if (spec.input === 'password') {
    if (!flags['password-stdin']) throw new UsageError('pass the password on standard input with --password-stdin');
    return (await readStdin()).replace(/\r?\n$/, '');
  }
  if (spec.input !== 'json-file' || !target) return undefined;
  return readJsonFile(target);
}

/** The JSON files named by the spec's file options (e.g. `--claims FILE`), by option name. */
async function readFileOptions(spec: CommandSpec, flags: Flags): Promise<Record<string, unknown>> {
  const files: Record<string, unknown> = {};
  for (const option of spec.fileOptions ?? []) {
    const file = flags[option];
    if (typeof file === 'string') files[option] = await readJsonFile(file);
  }
  return files;
}

async function readJsonFile(target: string): Promise<unknown> {
  const text = target === '-' ? await readStdin() : await readFile(target, 'utf8');
  const { ValidationError } = await import('../validation.js');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ValidationError([`${target} is not valid JSON: ${(error as Error).message}`]);
  }
  const { payloadHasUnstorableText } = await import('../adapter/records.js');
  if (payloadHasUnstorableText(parsed)) throw new ValidationError([`${target}: values must not contain NUL characters or unpaired surrogates`]);
  return parsed;
}

function checkArguments(spec: CommandSpec, rest: readonly string[], flags: Flags): string | undefined {
  const [target, extra] = rest;
  if (extra !== undefined) throw new UsageError(`${spec.name}: unexpected argument "${extra}"`);
  if (spec.requires && !target) throw new UsageError(`${spec.name} needs ${spec.requires}`);
  for (const name of Object.keys(flags)) {
    if (!(name in GLOBAL_OPTIONS) && !(name in (spec.options ?? {}))) throw new UsageError(`--${name} does not apply to ${spec.name}`);
  }
  return target;
}

async function runHere(spec: CommandSpec, request: CommandRequest, config: Config): Promise<CommandResult> {
  if (!spec.migrates && config.database.kind === 'embedded' && !existsSync(config.database.dataDir)) {
    // Nothing to open: say so without creating an empty database.
    throw (await import('../db/migrate.js')).NotMigratedError.nothingApplied();
  }
  const { openServices, buildLiveProvider } = await import('../services.js');
  const { createLogger } = await import('../observability/logger.js');
  // Logs go to stderr: stdout carries the command's output (JSON with --json).
  const logger = createLogger('warn', process.stderr);
  const services = await openServices(config, { logger, listen: false, migrate: Boolean(spec.migrates) });
  try {
    let live: ReturnType<typeof buildLiveProvider> | undefined;
    return await runCommand(spec, request, { services, migrationsApplied: services.migrationsApplied, provider: async () => (await (live ??= buildLiveProvider(services, logger))).live });
  } finally {
    await services.close();
  }
}

async function execute(spec: CommandSpec, rest: readonly string[], flags: Flags): Promise<CommandResult> {
  try {
    const target = checkArguments(spec, rest, flags);
    const { configFromProcessEnvironment, configWarningsFromProcessEnvironment } = await import('../config/index.js');
    for (const warning of configWarningsFromProcessEnvironment()) process.stderr.write(`gatehouse: warning: ${warning}\n`);
    const config = configFromProcessEnvironment();
    spec.guard?.(config.database.kind, flags);
    const request: CommandRequest = { command: spec.name, target, flags, input: await readInput(spec, target, flags), files: await readFileOptions(spec, flags) };
    if (config.database.kind === 'embedded') {
      const { sendToServer, cliSocketPath } = await import('./remote.js');
      const answered = await sendToServer(cliSocketPath(config.dataDir), request);
      if (answered) return answered;
    }
    return await runHere(spec, request, config);
  } catch (error) {
    return failure(error, Boolean(flags['json']));
  }
}

export async function cli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: allOptions() });
  } catch (error) {
    process.stderr.write(`gatehouse: ${(error as Error).message}\n\n${usageText()}`);
    return 2;
  }
  const flags = parsed.values as Flags;
  const { positionals } = parsed;
  if (flags['version']) {
    process.stdout.write(`gatehouse ${version()}\n`);
    return 0;
  }
  if (flags['help'] || positionals[0] === 'help' || !positionals.length) {
    process.stdout.write(usageText());
    return positionals.length || flags['help'] ? 0 : 2;
  }
  const found = findCommand(positionals);
  const result = found
    ? await execute(found.spec, found.rest, flags)
    : failure(new UsageError(`unknown command "${positionals.join(' ')}" (gatehouse help lists the commands)`), Boolean(flags['json']));
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  return result.code;
}

cli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

/**
 * The CLI's way in while a server owns the embedded database (PGlite is single-process): a
 * Unix socket in the data folder, `gatehouse.sock`, mode 0600 — whoever may read the data
 * folder's files may run commands, nobody else (no token: the file's permissions are the
 * authorisation, as for the database files beside it). The CLI sends a command with its input
 * already read; the server runs the same handler the CLI would and answers with the captured
 * output and exit code. Each command is logged (never its input).
 */
import { chmodSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import type { Logger } from 'pino';
import { payloadHasUnstorableText } from '../adapter/records.js';
import { commandByName } from '../cli/commands.js';
import { CLI_SOCKET_PATH, cliSocketPath } from '../cli/remote.js';
import { failure, runCommand, type CommandRequest, type CommandResult, type CommandSession } from '../cli/run-command.js';
import { ValidationError } from '../validation.js';
// A clients import of 1000 clients fits with room to spare.
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
// sockaddr_un's path is 108 bytes including the terminator on Linux.
const MAX_SOCKET_PATH_BYTES = 107;

async function readRequest(req: http.IncomingMessage): Promise<CommandRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new Error('command too large');
    chunks.push(chunk as Buffer);
  }
  const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CommandRequest;
  if (!parsed || typeof parsed.command !== 'string' || typeof parsed.flags !== 'object') throw new Error('malformed command');
  return parsed;
}

async function answer(req: http.IncomingMessage, session: CommandSession, logger: Logger): Promise<CommandResult> {
  const request = await readRequest(req);
  const spec = commandByName(request.command);
  const json = Boolean(request.flags['json']);
  if (!spec) return failure(Object.assign(new Error(`unknown command "${request.command}"`), { name: 'UsageError' }), json);
  // API-3, as for every other way in: PostgreSQL cannot store these.
  if (payloadHasUnstorableText(request.input) || payloadHasUnstorableText(request.files)) return failure(new ValidationError(['values must not contain NUL characters or unpaired surrogates']), json);
  logger.info({ event: 'cli_command', command: spec.name }, 'command from the CLI');
  return runCommand(spec, request, session);
}

export interface CliSocket {
  readonly path: string;
  close(): Promise<void>;
}

// Within the server's 25-second shutdown deadline, with room for the rest of the shutdown.
const COMMAND_DRAIN_MS = 15_000;

/** Listens on the data folder's socket; undefined (with a warning) if the path cannot hold one. */
export async function listenForCli(dataDir: string, session: CommandSession, logger: Logger): Promise<CliSocket | undefined> {
  const socketPath = cliSocketPath(dataDir);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    logger.warn({ path: socketPath }, 'the data folder path is too long for a Unix socket: the CLI cannot reach this server while it runs');
    return undefined;
  }
  // We hold the data folder's lock, so a socket file left here belongs to a process that died.
  try {
    unlinkSync(socketPath);
  } catch {
    // none left
  }
  const running = new Set<Promise<unknown>>();
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== CLI_SOCKET_PATH) {
      res.writeHead(404).end();
      return;
    }
    const command = answer(req, session, logger).then(
      (result) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result)),
      (error: unknown) => {
        logger.warn({ err: error }, 'command from the CLI failed');
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(failure(error, false)));
      },
    );
    running.add(command);
    void command.finally(() => running.delete(command));
  });
  // Created owner-only from the first moment (umask), then made explicit. (Worker threads may
  // not change the umask; the data folder is 0700 and the chmod follows at once.)
  let previousUmask: number | undefined;
  try {
    previousUmask = process.umask(0o177);
  } catch {
    previousUmask = undefined;
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    chmodSync(socketPath, 0o600);
  } catch (error) {
    // Serving matters more than the CLI's shortcut: the CLI then says the database is in use.
    logger.warn({ err: error, path: socketPath }, 'cannot listen for CLI commands; the CLI cannot reach this server while it runs');
    server.close();
    return undefined;
  } finally {
    if (previousUmask !== undefined) process.umask(previousUmask);
  }
  return {
    path: socketPath,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A command already running is answered before the database closes under it (OPS-6);
      // the operator would otherwise not know whether it ran.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, COMMAND_DRAIN_MS)));
      await Promise.race([Promise.allSettled([...running]), deadline]);
      clearTimeout(timer);
      server.closeAllConnections();
      await closed;
    },
  };
}

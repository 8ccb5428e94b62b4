/**
 * Sends a command to the server that owns the embedded database, over the data folder's
 * socket (src/admin/cli-socket.ts). No server listening: undefined, and the CLI opens the
 * database itself.
 */
import http from 'node:http';
import path from 'node:path';
import type { CommandRequest, CommandResult } from './run-command.js';

export const CLI_SOCKET_NAME = 'gatehouse.sock';
export const CLI_SOCKET_PATH = '/cli/v1/run';

export function cliSocketPath(dataDir: string): string {
  return path.join(dataDir, CLI_SOCKET_NAME);
}

const NO_SERVER = new Set(['ENOENT', 'ECONNREFUSED']);

export function sendToServer(socketPath: string, request: CommandRequest): Promise<CommandResult | undefined> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(request);
    const req = http.request(
      { socketPath, method: 'POST', path: CLI_SOCKET_PATH, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as CommandResult);
          } catch {
            reject(new Error(`the Gatehouse server on ${socketPath} gave an unreadable answer (HTTP ${res.statusCode})`));
          }
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (NO_SERVER.has(error.code ?? '')) resolve(undefined);
      // The socket is the server owner's alone (0600): say so instead of a bare EACCES.
      else if (error.code === 'EACCES') reject(Object.assign(new Error(`the Gatehouse server on ${socketPath} runs as another user: run the command as that user`), { name: 'DataDirInUseError' }));
      else reject(error);
    });
    req.end(body);
  });
}

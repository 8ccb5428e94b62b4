/**
 * What an operator needs when a listener cannot start: which address, why, and which setting
 * to change — one line, instead of a bare `EADDRINUSE` stack. Also formats the address a
 * listener really bound, so the start-up log says where Gatehouse can be reached.
 */
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../config/index.js';

export interface ListenSetting {
  /** The variable that chooses the port, e.g. `PORT` or `METRICS_PORT`. */
  readonly portVariable: string;
  readonly hostVariable: string;
  /** A further way out, e.g. `METRICS_PORT=off`. */
  readonly alternative?: string;
}

export function explainListenError(error: unknown, port: number, host: string, setting: ListenSetting): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  const orElse = setting.alternative ? `, or ${setting.alternative}` : '';
  if (code === 'EADDRINUSE') {
    return new ConfigError([
      `${setting.portVariable}: ${where} is already in use (another Gatehouse on this host?): give each process its own ${setting.portVariable}${orElse}`,
    ]);
  }
  if (code === 'EACCES') {
    return new ConfigError([`${setting.portVariable}: not allowed to listen on ${where}: choose a port above 1023 in ${setting.portVariable}${orElse}`]);
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new ConfigError([`${setting.hostVariable}: ${host} is not an address of this machine: set ${setting.hostVariable} to one of its addresses (127.0.0.1, 0.0.0.0)`]);
  }
  return error;
}

/** `127.0.0.1:3000`, `[::]:3000`; with a note when every interface is meant. */
export function describeListenAddress(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const everywhere = address.address === '0.0.0.0' || address.address === '::';
  return `${host}:${address.port}${everywhere ? ' (every network interface)' : ''}`;
}

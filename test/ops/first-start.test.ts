/**
 * OPS-1: the entry point `npm start` runs, with nothing but a data directory, serves a working
 * issuer on the embedded database (secret and keys generated on first start).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { freePort } from '../support/server.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-first-start-'));
let gatehouse: GatehouseProcess | undefined;

afterAll(async () => {
  await gatehouse?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('OPS-1 first start on the embedded database', () => {
  it('serves discovery and JWKS with no DATABASE_URL and no GATEHOUSE_SECRET', async () => {
    const port = await freePort();
    // HOST unset: the default an operator gets.
    gatehouse = await spawnGatehouse({ GATEHOUSE_DATA_DIR: dataDir, ISSUER: `http://127.0.0.1:${port}`, WORKERS: 'auto', HOST: undefined, LOG_LEVEL: 'info' }, port);
    const discovery = (await (await fetch(`${gatehouse.url}/.well-known/openid-configuration`)).json()) as { issuer: string };
    expect(discovery.issuer).toBe(`http://127.0.0.1:${port}`);
    const { keys } = (await (await fetch(`${gatehouse.url}/jwks`)).json()) as { keys: unknown[] };
    expect(keys).toHaveLength(2);
    expect(existsSync(path.join(dataDir, 'master.secret'))).toBe(true);
    expect(gatehouse.output()).toContain('GATEHOUSE_SECRET is not set');
    expect(gatehouse.output()).not.toMatch(/Unsupported runtime/i);
  }, 60_000);

  it('listens on 127.0.0.1 only, and says so', async () => {
    const port = Number(new URL(gatehouse?.url ?? '').port);
    expect(gatehouse?.output()).toContain(`"listening":"127.0.0.1:${port}"`);
    expect(gatehouse?.output()).toContain(`on 127.0.0.1:${port} (discovery:`);
    // Not reachable on this machine's other addresses (a fresh demo server is not on the network).
    const outside = Object.values(os.networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal);
    if (outside) {
      const refused = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, outside.address);
        socket.once('connect', () => (socket.destroy(), resolve(false)));
        socket.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);
    }
  });
});

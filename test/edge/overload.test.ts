/**
 * API-5, issue 13 item 3: a flood is shed early. Past MAX_CONNECTIONS a new connection gets a
 * fast 503 and is closed; while the event loop lags past OVERLOAD_EVENT_LOOP_DELAY_MS (median)
 * requests are refused at once (Retry-After), and served again when it recovers.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStorage, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
const servers: TestServer[] = [];

beforeAll(async () => {
  storage = await createTestStorage('postgres');
});

afterAll(async () => {
  for (const server of servers) await server.stop();
  await storage?.dispose();
});

async function serve(env: Record<string, string>): Promise<TestServer> {
  const server = await startTestServer(storage, env);
  servers.push(server);
  return server;
}

function connect(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends one GET on `socket`; resolves with the raw answer once the server has replied. */
function get(socket: net.Socket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
      if (answer.includes('\r\n\r\n')) resolve(answer);
    });
    socket.once('close', () => resolve(answer));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('item 3: connection cap and load shedding', () => {
  it('answers connections beyond MAX_CONNECTIONS with a fast 503 and closes them', async () => {
    const server = await serve({ MAX_CONNECTIONS: '3' });
    const held = await Promise.all([1, 2, 3].map(() => connect(server.issuer)));
    const extra = await connect(server.issuer);
    const started = performance.now();
    const refused = await get(extra, '/jwks');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(refused).toMatch(/^HTTP\/1\.1 503/);
    expect(refused).toMatch(/retry-after: 1/i);
    expect(refused).toMatch(/connection: close/i);
    // The held connections are served, and a place freed is a place taken.
    expect(await get(held[0]!, '/jwks')).toMatch(/^HTTP\/1\.1 200/);
    held[1]!.destroy();
    await sleep(100);
    const next = await connect(server.issuer);
    expect(await get(next, '/jwks')).toMatch(/^HTTP\/1\.1 200/);
    for (const socket of [...held, next, extra]) socket.destroy();
  });

  it('sheds requests while the event loop lags past the threshold, and serves again after', async () => {
    const server = await serve({ OVERLOAD_EVENT_LOOP_DELAY_MS: '100' });
    expect((await fetch(`${server.issuer}/jwks`)).status).toBe(200);
    // The server runs in this process: a busy loop here is a busy loop there. Every turn is
    // slow (not one long pause), as under a flood; a request goes out on each turn.
    const answers: Promise<Response>[] = [];
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      const turn = Date.now() + 100;
      while (Date.now() < turn) {
        // blocking on purpose
      }
      answers.push(fetch(`${server.issuer}/jwks`));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const responses = await Promise.all(answers);
    const shed = responses.find((response) => response.status === 503);
    expect(responses.map((response) => response.status)).toContain(503);
    expect(shed?.headers.get('retry-after')).toBe('1');
    expect(await shed?.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect((await fetch(`${server.issuer}/healthz`)).status).toBe(200);
    await expect.poll(async () => (await fetch(`${server.issuer}/jwks`)).status, { timeout: 5000, interval: 100 }).toBe(200);
    expect(server.logs.join('')).toContain('"event":"load_shedding_started"');
  });

  it('does not shed for one long pause (a GC, a slow synchronous step)', async () => {
    const server = await serve({ OVERLOAD_EVENT_LOOP_DELAY_MS: '100' });
    await sleep(300);
    const until = Date.now() + 600;
    while (Date.now() < until) {
      // one long pause
    }
    await sleep(20);
    expect((await fetch(`${server.issuer}/jwks`)).status).toBe(200);
  });
});

/** Every serving process runs with the heap flags of src/runtime-flags.ts (they bound peak memory). */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS, withServerFlags } from '../../src/runtime-flags.js';
import { createTestDatabase } from '../support/databases.js';
import { spawnGatehouse } from '../support/process.js';
import { freePort } from '../support/server.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** Command lines of the worker processes (direct children running Gatehouse) of `pid`, from /proc. */
function workerCommandLines(pid: number): string[][] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\u0000');
        return parent === pid && command.some((part) => part.endsWith('main.ts')) ? [command] : [];
      } catch {
        return [];
      }
    });
}

describe('runtime flags', () => {
  it('adds the server flags, leaving a flag the operator set alone', () => {
    expect(withServerFlags([])).toEqual([...SERVER_NODE_FLAGS]);
    expect(withServerFlags(['--import', 'tsx'])).toEqual(['--import', 'tsx', ...SERVER_NODE_FLAGS]);
    expect(withServerFlags(['--max-semi-space-size=32'])).toEqual(['--max-semi-space-size=32']);
  });

  it('are on the command of npm start and of the container image', () => {
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    const dockerCmd = /^CMD (.+)$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1] ?? '';
    for (const flag of SERVER_NODE_FLAGS) {
      expect(scripts['start']).toMatch(new RegExp(`^node ${flag} `));
      expect(JSON.parse(dockerCmd)).toContain(flag);
    }
  });

  it('are passed to every cluster worker', async () => {
    const database = await createTestDatabase();
    cleanup.push(() => database.drop());
    const port = await freePort();
    const gatehouse = await spawnGatehouse(
      { DATABASE_URL: database.url, GATEHOUSE_SECRET: randomBytes(32).toString('base64url'), ISSUER: `http://127.0.0.1:${port}`, WORKERS: '2' },
      port,
    );
    cleanup.push(() => gatehouse.stop());
    await expect.poll(() => workerCommandLines(gatehouse.child.pid ?? 0).length, { timeout: 10_000 }).toBe(2);
    for (const command of workerCommandLines(gatehouse.child.pid ?? 0)) {
      for (const flag of SERVER_NODE_FLAGS) expect(command).toContain(flag);
    }
  });
});

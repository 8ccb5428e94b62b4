/** The benchmark's CPU-per-request figures come from /proc, for a process tree and a database's backends. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cpuPerRequest, cpuSnapshot } from '../../bench/cpu.js';

describe('CPU per request', () => {
  it('counts the CPU of a process and its children, per request served', async () => {
    // A child that burns CPU until it is stopped, as a cluster worker serving requests would.
    const child = spawn(process.execPath, ['-e', 'process.stdout.write("go"); for (;;);'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const before = cpuSnapshot(process.pid, undefined);
    expect(before.server.has(child.pid ?? -1)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = cpuSnapshot(process.pid, undefined);
    child.kill();
    const { serverUs, databaseUs } = cpuPerRequest(before, after, 1000);
    // 1000 "requests" over at least 50 ms of the child's CPU (half a second of wall time, on a busy machine).
    expect(serverUs).toBeGreaterThanOrEqual(50);
    expect(databaseUs).toBe(0);
  });

  it('reports nothing for no requests', () => {
    const snapshot = { server: new Map([[1, 10]]), database: new Map<number, number>() };
    expect(cpuPerRequest(snapshot, { server: new Map([[1, 20]]), database: new Map() }, 0)).toEqual({ serverUs: 0, databaseUs: 0 });
    expect(cpuPerRequest(snapshot, { server: new Map([[1, 20]]), database: new Map([[2, 5]]) }, 100)).toEqual({ serverUs: 1000, databaseUs: 500 });
  });
});

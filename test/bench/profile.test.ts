/** The benchmark's CPU-profile summary attributes self time to packages, Gatehouse folders and V8 states. */
import { describe, expect, it } from 'vitest';
import { ownerOf, sideBySide, summarizeProfile } from '../../bench/profile.js';

const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url, lineNumber: 9 } });

describe('CPU profile summary', () => {
  it('names the owner of a frame', () => {
    expect(ownerOf('file:///app/node_modules/oidc-provider/lib/x.js')).toBe('oidc-provider');
    expect(ownerOf('file:///app/node_modules/@koa/router/lib/layer.js')).toBe('@koa/router');
    expect(ownerOf('file:///app/dist/src/security/headers.js')).toBe('gatehouse security');
    expect(ownerOf('node:internal/crypto/hash')).toBe('node:crypto');
    expect(ownerOf('', '(garbage collector)')).toBe('(garbage collector)');
    expect(ownerOf('', 'writev')).toBe('(native)');
  });

  it('reports self time as shares of all samples, largest first', () => {
    const summary = summarizeProfile({
      nodes: [frame(1, '(idle)', ''), frame(2, 'sign', 'file:///app/node_modules/jose/dist/sign.js'), frame(3, 'consume', 'file:///app/dist/src/security/limits.js')],
      samples: [1, 2, 2, 3],
      timeDeltas: [100, 100, 100, 200],
    });
    const lines = summary.split('\n');
    expect(lines).toContain('| 40.0 % | gatehouse security |');
    expect(lines).toContain('| 40.0 % | jose |');
    expect(lines).toContain('| 20.0 % | (idle) |');
    expect(lines).toContain('| 40.0 % | sign — jose:10 |');
    expect(lines.indexOf('| 40.0 % | consume — gatehouse security:10 |')).toBeGreaterThan(0);
  });
});

describe('CPU profiles side by side', () => {
  it('shows self time per request of each target, the largest difference first', () => {
    const table = sideBySide([
      { target: 'a', owners: new Map([['jose', 1000], ['(idle)', 5000]]), functions: new Map([['sign — jose:1', 1000], ['hash — pg:2', 0]]), requests: 10 },
      { target: 'b', owners: new Map([['jose', 1000], ['pg', 400]]), functions: new Map([['sign — jose:1', 1000], ['hash — pg:2', 400]]), requests: 10 },
    ]);
    const lines = table.split('\n');
    expect(lines).toContain('| **all but idle** | **100.0** | **140.0** |');
    const pg = lines.indexOf('| hash — pg:2 | 0.0 | 40.0 |');
    expect(pg).toBeGreaterThan(0);
    expect(pg).toBeLessThan(lines.indexOf('| sign — jose:1 | 100.0 | 100.0 |'));
  });
});

/** The benchmark's CPU-profile summary attributes self time to packages, Gatehouse folders and V8 states. */
import { describe, expect, it } from 'vitest';
import { ownerOf, summarizeProfile } from '../../bench/profile.js';

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

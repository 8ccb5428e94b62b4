/**
 * `BENCH_PROFILE=1`: summaries of the V8 CPU profiles (`--cpu-prof`) the servers wrote during a
 * run — where the main thread spent its time, by package and by function (self time, the share
 * of all samples including idle) — so a claim about what stands in the way comes with figures.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const V8_STATES = new Set(['(idle)', '(garbage collector)', '(program)', '(root)']);

/** Where a frame's code lives: an npm package, a Gatehouse folder, a Node module, or native. */
export function ownerOf(url: string, functionName = ''): string {
  if (!url) return V8_STATES.has(functionName) ? functionName : '(native)';
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency?.[1]) return dependency[1];
  const own = /\/dist\/src\/([^/]+)/.exec(url);
  if (own?.[1]) return `gatehouse ${own[1].replace(/\.js$/, '')}`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0] ?? url;
  return path.basename(url);
}

function top(totals: Map<string, number>, all: number, count: number): string[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, time]) => `| ${((100 * time) / all).toFixed(1)} % | ${name.replaceAll('|', '\\|')} |`);
}

/** Self time by owner and by function, as two Markdown tables. */
export function summarizeProfile(profile: CpuProfile, count = 15): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id)?.callFrame;
    const time = profile.timeDeltas[index] ?? 0;
    if (!frame) return;
    all += time;
    const owner = ownerOf(frame.url, frame.functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + time);
    const name = V8_STATES.has(owner) ? owner : `${frame.functionName || '(anonymous)'} — ${owner}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + time);
  });
  if (all === 0) return 'empty profile\n';
  return [
    '| self time | package or module |',
    '| ---: | --- |',
    ...top(owners, all, count),
    '',
    '| self time | function |',
    '| ---: | --- |',
    ...top(functions, all, count),
    '',
  ].join('\n');
}

/** Summaries of every profile a server wrote into `dir` (one per process). */
export function summarizeProfiles(dir: string, title: string): string {
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  return files
    .map((name, index) => {
      const profile = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as CpuProfile;
      return `### ${title}, process ${index + 1} of ${files.length}\n\n${summarizeProfile(profile)}`;
    })
    .join('\n');
}

/** Self time in µs by owner and by function, summed over every profile (process) in `dir`. */
export function selfTimes(dir: string): { owners: Map<string, number>; functions: Map<string, number> } {
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((id, index) => {
      const frame = byId.get(id)?.callFrame;
      if (!frame) return;
      const time = profile.timeDeltas[index] ?? 0;
      const owner = ownerOf(frame.url, frame.functionName);
      owners.set(owner, (owners.get(owner) ?? 0) + time);
      const fn = V8_STATES.has(owner) ? owner : `${frame.functionName || '(anonymous)'} — ${owner}:${frame.lineNumber + 1}`;
      functions.set(fn, (functions.get(fn) ?? 0) + time);
    });
  }
  return { owners, functions };
}

export interface ProfiledTarget {
  readonly target: string;
  readonly owners: ReadonlyMap<string, number>;
  readonly functions: ReadonlyMap<string, number>;
  /** Requests the target served while profiled (warm-up included). */
  readonly requests: number;
}

/**
 * Side by side: self time per request (µs) of each owner and function in each target, the rows
 * where the targets differ most first — what one mode does per request that another does not.
 * Start-up is in the profile too; over tens of thousands of requests it is a fraction of a µs.
 */
export function sideBySide(targets: readonly ProfiledTarget[], count = 25): string {
  const table = (pick: (target: ProfiledTarget) => ReadonlyMap<string, number>, title: string, limit: number) => {
    const names = new Set(targets.flatMap((target) => [...pick(target).keys()]));
    const perRequest = (target: ProfiledTarget, name: string) => (pick(target).get(name) ?? 0) / Math.max(1, target.requests);
    const rows = [...names]
      .filter((name) => name !== '(idle)')
      .map((name) => ({ name, values: targets.map((target) => perRequest(target, name)) }))
      .map((row) => ({ ...row, spread: Math.max(...row.values) - Math.min(...row.values) }))
      .sort((a, b) => b.spread - a.spread)
      .slice(0, limit);
    const totals = targets.map((target) => [...pick(target)].filter(([name]) => name !== '(idle)').reduce((sum, [, time]) => sum + time, 0) / Math.max(1, target.requests));
    return [
      `| ${title} | ${targets.map((target) => `${target.target} µs/req`).join(' | ')} |`,
      `| --- | ${targets.map(() => '---:').join(' | ')} |`,
      `| **all but idle** | ${totals.map((value) => `**${value.toFixed(1)}**`).join(' | ')} |`,
      ...rows.map((row) => `| ${row.name.replaceAll('|', '\\|')} | ${row.values.map((value) => value.toFixed(1)).join(' | ')} |`),
      '',
    ].join('\n');
  };
  return [
    `Requests profiled: ${targets.map((target) => `${target.target} ${target.requests}`).join(', ')}.`,
    '',
    table((target) => target.owners, 'package or module', 15),
    table((target) => target.functions, 'function (largest differences first)', count),
  ].join('\n');
}

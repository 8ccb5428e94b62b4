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

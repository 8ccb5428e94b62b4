/** Benchmark output: a Markdown table with ratios to the baseline, and a small SVG bar chart. */
export interface Row {
  readonly target: string;
  readonly scenario: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly rssMiB: number;
  readonly failed: number;
  /** CPU µs per request of the server's processes (median of the rounds). */
  readonly cpuUs?: number;
  /** CPU µs per request of the PostgreSQL backends serving it (PostgreSQL targets only). */
  readonly dbCpuUs?: number;
  /** Cores the server was pinned to (`all`: not pinned). */
  readonly cores?: string;
  /** Runs merged into this row (BENCH_REPEAT): throughput of the median run, median CPU per request. */
  readonly repeats?: number;
}

interface Report {
  readonly date: string;
  readonly machine: { cpus: number; model: string | undefined; memoryGiB: number; node: string };
  readonly settings: { durationSeconds: number; rounds: number; connections: number; loadGeneratorCores?: string; repeats?: number; rate?: number };
  readonly rows: readonly Row[];
}

export function ratio(rows: readonly Row[], row: Row): number | undefined {
  const baseline = rows.find((candidate) => candidate.target === 'baseline' && candidate.scenario === row.scenario);
  return baseline && baseline.rps > 0 ? row.rps / baseline.rps : undefined;
}

/** CPU per request, Gatehouse's own plus its PostgreSQL backends'. */
export function totalCpu(row: Row): number | undefined {
  return row.cpuUs === undefined ? undefined : row.cpuUs + (row.dbCpuUs ?? 0);
}

/** The baseline's CPU per request over this row's: 1 means as cheap as the bare engine. */
export function cpuRatio(rows: readonly Row[], row: Row): number | undefined {
  const baseline = rows.find((candidate) => candidate.target === 'baseline' && candidate.scenario === row.scenario);
  const mine = totalCpu(row);
  const theirs = baseline ? totalCpu(baseline) : undefined;
  return mine && theirs ? theirs / mine : undefined;
}

function cpuCell(rows: readonly Row[], row: Row): string {
  if (row.cpuUs === undefined) return '';
  const database = row.dbCpuUs !== undefined ? ` + ${row.dbCpuUs} µs PG` : '';
  const r = row.target !== 'baseline' ? cpuRatio(rows, row) : undefined;
  return `<br>CPU ${row.cpuUs} µs${database}/req${r !== undefined ? ` (**${r.toFixed(2)}×**)` : ''}`;
}

export function renderMarkdown(report: Report): string {
  const targets = [...new Set(report.rows.map((row) => row.target))];
  const scenarios = [...new Set(report.rows.map((row) => row.scenario))];
  const cell = (row: Row | undefined) => {
    if (!row) return '—';
    const r = ratio(report.rows, row);
    const failed = row.failed ? ` ⚠ ${row.failed} failed` : '';
    return `${row.rps} req/s${r !== undefined && row.target !== 'baseline' ? ` (**${r.toFixed(2)}×**)` : ''}${cpuCell(report.rows, row)}<br>p50 ${row.p50} ms · p99 ${row.p99} ms · ${row.rssMiB} MiB${failed}`;
  };
  const lines = [
    `Benchmark ${report.date} — ${report.machine.cpus} cores (${report.machine.model ?? 'unknown CPU'}), ${report.machine.memoryGiB} GiB, Node ${report.machine.node}; ` +
      `${report.settings.connections} connections, median of ${report.settings.rounds} × ${report.settings.durationSeconds} s after warm-up` +
      `${report.settings.rate ? `, offered load fixed at ${report.settings.rate} req/s` : ''}` +
      `${report.settings.repeats && report.settings.repeats > 1 ? `, each target run ${report.settings.repeats} times interleaved (medians)` : ''}; ` +
      'load generator and servers on the same machine' +
      (report.settings.loadGeneratorCores && report.settings.loadGeneratorCores !== 'all'
        ? ` (load generator pinned to core ${report.settings.loadGeneratorCores}; servers on ${placements(report.rows)})`
        : ' (nothing pinned)') +
      '. Ratios are to the baseline (bare oidc-provider, in-memory) measured in the same run: throughput, and CPU per request ' +
      "(the baseline's CPU µs over the target's, PostgreSQL's included; 1 = as cheap as the bare engine). " +
      'CPU per request is user + system time of the server process tree (and of its PostgreSQL backends) over the requests served, median of the rounds; ' +
      'it depends far less on what else runs on the machine than req/s does.',
    '',
    `| scenario | ${targets.join(' | ')} |`,
    `| --- | ${targets.map(() => '---').join(' | ')} |`,
    ...scenarios.map((scenario) => `| ${scenario} | ${targets.map((target) => cell(report.rows.find((row) => row.target === target && row.scenario === scenario))).join(' | ')} |`),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

function placements(rows: readonly Row[]): string {
  const byCores = new Map<string, string[]>();
  for (const row of rows) {
    const cores = row.cores ?? 'all';
    const targets = byCores.get(cores) ?? [];
    if (!targets.includes(row.target)) targets.push(row.target);
    byCores.set(cores, targets);
  }
  return [...byCores].map(([cores, targets]) => `${targets.join(', ')}: ${cores === 'all' ? 'all cores' : `core ${cores}`}`).join('; ');
}

const escape = (text: string) => text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c);

export function renderChart(rows: readonly Row[]): string {
  const targets = [...new Set(rows.map((row) => row.target))];
  const scenarios = [...new Set(rows.map((row) => row.scenario))];
  const colours = ['#98a2b3', '#2f5bd3', '#7a9cff', '#12b76a', '#f79009'];
  const max = Math.max(1, ...rows.map((row) => row.rps));
  const barHeight = 14;
  const groupHeight = targets.length * barHeight + 18;
  const width = 760;
  const left = 230;
  const height = scenarios.length * groupHeight + 40;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`];
  scenarios.forEach((scenario, s) => {
    const top = 10 + s * groupHeight;
    parts.push(`<text x="0" y="${top + 12}">${escape(scenario)}</text>`);
    targets.forEach((target, t) => {
      const row = rows.find((candidate) => candidate.scenario === scenario && candidate.target === target);
      if (!row) return;
      const w = Math.round(((width - left - 90) * row.rps) / max);
      const y = top + t * barHeight;
      parts.push(`<rect x="${left}" y="${y}" width="${w}" height="${barHeight - 3}" fill="${colours[t % colours.length]}"/>`);
      parts.push(`<text x="${left + w + 4}" y="${y + 10}">${row.rps}</text>`);
    });
  });
  targets.forEach((target, t) => {
    const x = left + t * 110;
    parts.push(`<rect x="${x}" y="${height - 18}" width="10" height="10" fill="${colours[t % colours.length]}"/><text x="${x + 14}" y="${height - 9}">${escape(target)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** CLI output: human-readable by default, one JSON document with --json. */
export interface Output {
  readonly json: boolean;
  result(human: string, data: unknown): void;
  table(rows: readonly Record<string, unknown>[], data?: unknown): void;
  /** A line for the operator beside the result (stderr), e.g. a risky choice that was accepted. */
  warn(text: string): void;
}

export function createOutput(
  json: boolean,
  write: (text: string) => void = (t) => process.stdout.write(t),
  writeWarning: (text: string) => void = (t) => process.stderr.write(t),
): Output {
  return {
    json,
    warn(text) {
      writeWarning(`gatehouse: warning: ${text}\n`);
    },
    result(human, data) {
      write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);
    },
    table(rows, data) {
      if (json) {
        write(`${JSON.stringify(data ?? rows, null, 2)}\n`);
        return;
      }
      if (!rows.length) {
        write('(none)\n');
        return;
      }
      const columns = Object.keys(rows[0] ?? {});
      const cell = (value: unknown) => (value instanceof Date ? value.toISOString() : value === undefined ? '' : String(value));
      const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)));
      const line = (values: string[]) => values.map((value, i) => value.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
      write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
      for (const row of rows) write(`${line(columns.map((c) => cell(row[c])))}\n`);
    },
  };
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

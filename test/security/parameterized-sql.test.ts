/** API-4: SQL is never built from strings; raw statements take bindings. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : /\.ts$/.test(name) ? [full] : [];
  });
}

const RAW_CALL = /\b(raw|whereRaw|orWhereRaw|andWhereRaw|havingRaw|joinRaw|orderByRaw|query)\(\s*/g;

/** The first argument of every raw-SQL call must be a plain literal: no interpolation, no concatenation. */
function stringBuiltSql(source: string): string[] {
  const problems: string[] = [];
  for (const match of source.matchAll(RAW_CALL)) {
    const rest = source.slice((match.index ?? 0) + match[0].length);
    const template = /^`([^`]*)`/.exec(rest);
    if (template && template[1]?.includes('${')) problems.push(`${match[1]}(\`…\${…}…\`)`);
    if (/^(['"`])(?:(?!\1).)*\1\s*\+/.test(rest)) problems.push(`${match[1]}('…' + …)`);
    if (/^[A-Za-z_$][\w$.]*\s*\+/.test(rest)) problems.push(`${match[1]}(identifier + …)`);
  }
  return problems;
}

describe('API-4 parameterized SQL only', () => {
  it('finds string-built SQL when there is some (the check works)', () => {
    expect(stringBuiltSql('knex.raw(`SELECT * FROM t WHERE id = ${id}`)')).toHaveLength(1);
    expect(stringBuiltSql("db.whereRaw('name = ' + name)")).toHaveLength(1);
    expect(stringBuiltSql("knex.raw('SELECT ?', [id])")).toHaveLength(0);
  });

  it('has none in the server, the CLI or the migrations', () => {
    const offenders = [...files('src'), ...files('migrations')].flatMap((file) =>
      stringBuiltSql(readFileSync(file, 'utf8')).map((problem) => `${file}: ${problem}`),
    );
    expect(offenders).toEqual([]);
  });
});

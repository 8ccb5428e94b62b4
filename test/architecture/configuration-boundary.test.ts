/** The house rule behind "configuration in one validated place": only src/config reads the environment. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

describe('configuration boundary', () => {
  it('reads process.env nowhere but src/config', () => {
    const offenders = sourceFiles('src')
      .filter((file) => !file.startsWith(path.join('src', 'config')))
      .filter((file) => /process\.env/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});

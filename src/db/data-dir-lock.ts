/**
 * A pid lock file beside the embedded database. PGlite must be opened by one process only:
 * a second server, or the CLI while the server runs, is refused with a clear message instead
 * of corrupting the data directory.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface DataDirLock {
  release(): void;
}

export class DataDirInUseError extends Error {
  constructor(readonly pid: number, readonly dataDir: string) {
    super(
      `the embedded database in ${dataDir} is in use by another Gatehouse process (pid ${pid}); ` +
        'stop it first, or point every process at a shared PostgreSQL with DATABASE_URL',
    );
    this.name = 'DataDirInUseError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Locks held by this process: a file naming our own pid is stale only if we do not hold it
// (in a container every fresh start may be pid 1).
const heldByThisProcess = new Set<string>();

export function acquireDataDirLock(dataDir: string): DataDirLock {
  const file = path.join(dataDir, 'gatehouse.pid');
  if (heldByThisProcess.has(file)) throw new DataDirInUseError(process.pid, dataDir);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      heldByThisProcess.add(file);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        heldByThisProcess.delete(file);
        try {
          if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
        } catch {
          // already gone
        }
      };
      process.once('exit', release);
      return { release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new DataDirInUseError(holder, dataDir);
      }
      // A stale lock from a process that died: take it over.
      unlinkSync(file);
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

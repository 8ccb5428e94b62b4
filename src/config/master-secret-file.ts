/**
 * Resolves the master secret: the configured GATEHOUSE_SECRET, or, in embedded mode only, one
 * generated once into the data directory (mode 0600) so a first start needs no set-up.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './index.js';

export interface ResolvedSecret {
  readonly secret: string;
  /** Set when the secret was generated now, so the caller can warn the operator once. */
  readonly generatedAt?: string;
}

export function resolveMasterSecret(config: Config): ResolvedSecret {
  if (config.secret) return { secret: config.secret };
  if (config.database.kind !== 'embedded') {
    throw new Error('GATEHOUSE_SECRET is required when DATABASE_URL is set');
  }
  const file = path.join(config.dataDir, 'master.secret');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return { secret: existing };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, generatedAt: file };
}

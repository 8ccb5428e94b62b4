/**
 * Resolves the master secret: the configured GATEHOUSE_SECRET, or, in embedded mode only, one
 * generated once into the data directory (mode 0600) so a first start needs no set-up.
 * Enforces: a secret is generated only for a database that holds no sealed keys yet (a data
 * folder first used with GATEHOUSE_SECRET has no master.secret, and a new one could not open
 * its keys); a secret that does not open the stored keys is refused, naming which secret.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from './index.js';

export interface ResolvedSecret {
  readonly secret: string;
  /** Set when the secret was generated now, so the caller can warn the operator once. */
  readonly generatedAt?: string;
}

/** What the database can say about the secret: asked only when it matters. */
export interface SealedKeys {
  /** Whether any sealed key is stored. */
  any(): Promise<boolean>;
}

export function masterSecretFile(config: Config): string {
  return path.join(config.dataDir, 'master.secret');
}

function readSecretFile(file: string): string | undefined {
  try {
    const existing = readFileSync(file, 'utf8').trim();
    return existing.length >= 32 ? existing : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return undefined;
  }
}

export async function resolveMasterSecret(config: Config, sealed: SealedKeys): Promise<ResolvedSecret> {
  if (config.secret) return { secret: config.secret };
  if (config.database.kind !== 'embedded') {
    throw new ConfigError(['GATEHOUSE_SECRET is required when DATABASE_URL is set']);
  }
  const file = masterSecretFile(config);
  const existing = readSecretFile(file);
  if (existing) return { secret: existing };
  if (await sealed.any()) {
    throw new ConfigError([
      `GATEHOUSE_SECRET is not set and ${file} does not exist, but the database in ${config.dataDir} holds keys sealed with a master secret: ` +
        'set GATEHOUSE_SECRET to the value it was set up with (a newly generated secret could not open them)',
    ]);
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, generatedAt: file };
}

/** The one-line explanation when the resolved secret does not open the stored keys. */
export function wrongMasterSecret(config: Config): ConfigError {
  const file = masterSecretFile(config);
  if (config.secret) {
    const hint =
      config.database.kind === 'embedded' && existsSync(file)
        ? ` (${file} exists: unset GATEHOUSE_SECRET to use it, if it belongs to this data)`
        : ' (every replica and the CLI must use the same one)';
    return new ConfigError([
      `GATEHOUSE_SECRET is not the master secret this database was set up with: its signing keys do not open with it. Set GATEHOUSE_SECRET to the original value${hint}`,
    ]);
  }
  return new ConfigError([
    `${file} is not the master secret this database was set up with: its signing keys do not open with it. ` +
      'Restore the master.secret backed up with this data folder, or set GATEHOUSE_SECRET to the original value',
  ]);
}

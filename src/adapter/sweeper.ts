/**
 * Deletes expired records in small batches once their grace period has passed, so the table
 * stays small without long locks. Several replicas sweeping at once is harmless.
 */
import type { Logger } from 'pino';
import type { OidcRecords } from './records.js';

const BATCH_SIZE = 1000;
const MAX_BATCHES_PER_RUN = 50;

export async function sweepOnce(records: OidcRecords): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch += 1) {
    const deleted = await records.sweepExpired(BATCH_SIZE);
    total += deleted;
    if (deleted < BATCH_SIZE) break;
  }
  return total;
}

export function startSweeper(records: OidcRecords, intervalSeconds: number, logger: Logger, extra?: () => Promise<unknown>): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    Promise.all([sweepOnce(records), extra?.()])
      .then(([deleted]) => {
        if (deleted) logger.debug({ deleted }, 'expired records swept');
      })
      .catch((error: Error) => logger.warn({ err: error }, 'sweeping expired records failed'))
      .finally(() => {
        running = false;
      });
  }, intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

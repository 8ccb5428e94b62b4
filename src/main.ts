#!/usr/bin/env node
/** Entry point: config → server → graceful shutdown. */
import './require-supported-node.js';
import { ConfigError, configFromProcessEnvironment, configWarningsFromProcessEnvironment } from './config/index.js';
import { createLogger } from './observability/logger.js';
import cluster from 'node:cluster';
import { runPrimary } from './cluster.js';
import { checkTransportFiles } from './tls/listeners.js';

const SHUTDOWN_DEADLINE_MS = 25_000;

async function main(): Promise<void> {
  let config;
  // A misspelt setting is often why another one is wrong: show both.
  const warnings = cluster.isPrimary ? configWarningsFromProcessEnvironment() : [];
  try {
    config = configFromProcessEnvironment();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`gatehouse: ${problem}\n`);
      for (const warning of warnings) process.stderr.write(`gatehouse: warning: ${warning}\n`);
      process.exit(78);
    }
    throw error;
  }
  try {
    checkTransportFiles(config);
  } catch (error) {
    process.stderr.write(`gatehouse: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(78);
  }
  const logger = createLogger(config.logLevel);
  for (const warning of warnings) logger.warn(warning);
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config, logger);
    return;
  }
  // Loaded only where a server runs: a cluster primary that just forks stays ~70 MiB smaller.
  const { startGatehouse } = await import('./server.js');
  // In a cluster the primary serves the merged metrics; a worker only contributes its registry.
  const gatehouse = await startGatehouse(cluster.isWorker ? { ...config, metrics: undefined } : config, logger);
  logger.info(
    { issuer: config.issuer, listening: gatehouse.listening, database: config.database.kind },
    `Gatehouse is serving ${config.issuer} on ${gatehouse.listening} (discovery: ${config.issuer}/.well-known/openid-configuration)`,
  );

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    gatehouse.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`gatehouse: ${problem}\n`);
    process.exit(78);
  }
  process.stderr.write(`gatehouse: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

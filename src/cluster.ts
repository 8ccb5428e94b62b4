/**
 * Several worker processes on one port (node:cluster): Gatehouse keeps no state in memory that
 * matters across requests (caches are invalidated through the database), so each worker is a
 * full replica. The primary only forks, restarts crashed workers, forwards SIGTERM, and serves
 * the workers' metrics merged.
 */
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import { withServerFlags } from './runtime-flags.js';

const SHUTDOWN_DEADLINE_MS = 25_000;
const RESTART_DELAY_MS = 1000;

export function runPrimary(config: Config, logger: Logger): void {
  let stopping = false;
  cluster.setupPrimary({ execArgv: withServerFlags(process.execArgv) });
  const fork = () => {
    if (!stopping) cluster.fork({ GATEHOUSE_WORKER: '1' });
  };
  for (let i = 0; i < config.workers; i += 1) fork();
  logger.info({ workers: config.workers }, 'started worker processes');

  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) {
      if (!Object.keys(cluster.workers ?? {}).length) process.exit(0);
      return;
    }
    logger.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting another');
    setTimeout(fork, RESTART_DELAY_MS).unref();
  });

  let metricsServer: http.Server | undefined;
  if (config.metrics) {
    const aggregator = new AggregatorRegistry();
    metricsServer = http
      .createServer((req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        aggregator.clusterMetrics().then(
          (text) => res.writeHead(200, { 'content-type': aggregator.contentType }).end(text),
          () => res.writeHead(503).end(),
        );
      })
      .listen(config.metrics.port, config.metrics.host);
  }

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down workers');
    metricsServer?.close();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => {
      logger.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    if (!Object.keys(cluster.workers ?? {}).length) process.exit(0);
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

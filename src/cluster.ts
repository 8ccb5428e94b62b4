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
import { explainListenError } from './http/listen-errors.js';
import { ConfigError } from './config/index.js';

const SHUTDOWN_DEADLINE_MS = 25_000;
const RESTART_DELAY_MS = 1000;
const CONFIGURATION_EXIT_CODE = 78;

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
    if (code === CONFIGURATION_EXIT_CODE) {
      // A configuration problem (already printed by the worker) will not go away by restarting.
      stopping = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
      process.exit(CONFIGURATION_EXIT_CODE);
    }
    logger.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting another');
    // Not unref'd: with every worker gone the primary must keep trying, not exit 0.
    setTimeout(fork, RESTART_DELAY_MS);
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
    const { port, host } = config.metrics;
    metricsServer.once('error', (error) => {
      const explained = explainListenError(error, port, host, { portVariable: 'METRICS_PORT', hostVariable: 'METRICS_HOST', alternative: 'METRICS_PORT=off' });
      const lines = explained instanceof ConfigError ? explained.problems : [(error as Error).message];
      for (const line of lines) process.stderr.write(`gatehouse: ${line}\n`);
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      process.exit(CONFIGURATION_EXIT_CODE);
    });
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

/**
 * Starts one Gatehouse process: services → keys → provider → HTTP. Returned handle closes it
 * gracefully: stop accepting, let in-flight requests finish, then close the pool.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

// How long an open keep-alive connection may stay quiet once shutdown has begun.
const IDLE_CONNECTION_GRACE_MS = 500;
import type { Logger } from 'pino';
import { startSweeper } from './adapter/sweeper.js';
import { createApp } from './app.js';
import { adminRoutes } from './admin/routes.js';
import { Metrics } from './observability/metrics.js';
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from './config/index.js';
import { keyRetention, type LiveProvider } from './provider/live.js';
import { buildLiveProvider, openServices, type Services } from './services.js';

export interface RunningGatehouse {
  readonly url: string;
  readonly metricsUrl: string | undefined;
  readonly services: Services;
  readonly live: LiveProvider;
  readonly server: http.Server;
  close(): Promise<void>;
}

export async function startGatehouse(config: Config, logger: Logger): Promise<RunningGatehouse> {
  const services = await openServices(config, { logger, listen: true, migrate: true });
  const stops: (() => void)[] = [];
  try {
    const metrics = new Metrics(services.db.knex);
    if (cluster.isWorker) AggregatorRegistry.setRegistries([metrics.registry]);
    const { live, structuredTokens } = await buildLiveProvider(services, logger, metrics);
    live.startRefreshing(config.keys.refreshInterval);
    stops.push(() => live.stop());
    const stopSweeper = startSweeper(services.records, config.storage.sweepInterval, logger, async () => {
      const rotated = await services.keys.rotateIfDue(config.keys.rotationSeconds, config.keys.publishDelay);
      if (rotated.length) {
        logger.info({ kids: rotated }, 'scheduled key rotation: new keys published');
        await services.feed.publish('keys');
      }
      await services.keys.deleteExpired(new Date(), keyRetention({ config }, { resourceServers: await services.resourceServers.all() }));
    });

    stops.push(stopSweeper);
    const app = createApp({
      config,
      db: services.db,
      logger,
      live,
      accounts: services.accounts,
      resourceServers: services.resourceServers,
      sessions: services.sessions,
      secret: services.secret,
      clients: services.clients,
      rateLimits: services.rateLimits,
      admin: adminRoutes({ services, live, structuredTokens, logger }),
      metrics,
      factors: services.factors,
      interactionStates: services.interactionStates,
      passkeys: services.passkeys,
    });
    const server = http.createServer(app.callback());
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const metricsListener = config.metrics ? await metrics.listen(config.metrics.port, config.metrics.host) : undefined;
    if (metricsListener) stops.push(() => void metricsListener.close());
    const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`;

    let closing: Promise<void> | undefined;
    // During shutdown, a request on an already open connection is still served, then the
    // connection closes (OPS-6).
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (closing && !res.headersSent) res.setHeader('Connection', 'close');
    });
    return {
      url,
      metricsUrl: metricsListener?.url,
      services,
      live,
      server,
      close() {
        closing ??= (async () => {
          live.stop();
          stopSweeper();
          await metricsListener?.close();
          await new Promise<void>((resolve) => {
            // net.Server's close stops accepting but, unlike http.Server's, does not cut
            // connections that were just accepted and have not sent their request yet.
            net.Server.prototype.close.call(server, () => resolve());
            const idle = setInterval(() => server.closeIdleConnections(), IDLE_CONNECTION_GRACE_MS);
            idle.unref();
            server.once('close', () => clearInterval(idle));
          });
          await services.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const stop of stops) stop();
    await services.close();
    throw error;
  }
}

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
import { createRequestHandler } from './app.js';
import { adminRoutes } from './admin/routes.js';
import { Metrics } from './observability/metrics.js';
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from './config/index.js';
import { keyRetention, type LiveProvider } from './provider/live.js';
import { buildLiveProvider, openServices, type Services } from './services.js';
import { createListeners } from './tls/listeners.js';
import { prepareDecoyHash } from './accounts/passwords.js';
import { OverloadGuard } from './http/overload.js';
import { describeListenAddress, explainListenError } from './http/listen-errors.js';
import { listenForCli } from './admin/cli-socket.js';

export interface RunningGatehouse {
  readonly url: string;
  /** The address really bound, e.g. `127.0.0.1:3000` or `0.0.0.0:3000 (every network interface)`. */
  readonly listening: string;
  readonly metricsUrl: string | undefined;
  readonly services: Services;
  readonly live: LiveProvider;
  readonly server: http.Server;
  /** The mutual-TLS listener (MTLS_PORT), when configured. */
  readonly mtls: { readonly url: string; readonly server: http.Server } | undefined;
  close(): Promise<void>;
}

export async function startGatehouse(config: Config, logger: Logger): Promise<RunningGatehouse> {
  const services = await openServices(config, { logger, listen: true, migrate: true });
  // Built before the first request, so an unknown user's first sign-in costs what later ones do.
  const decoyHash = prepareDecoyHash();
  const stops: (() => void)[] = [];
  try {
    const metrics = new Metrics(services.db.knex);
    if (cluster.isWorker) AggregatorRegistry.setRegistries([metrics.registry]);
    const { live, structuredTokens } = await buildLiveProvider(services, logger, metrics);
    live.startRefreshing(config.keys.refreshInterval);
    if (config.registration.mode === 'open') logger.warn({ event: 'registration_open' }, 'REGISTRATION=open: anyone who can reach /reg can register a client (limited per address and by the registration policy)');
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
    const handleRequest = createRequestHandler({
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
    await decoyHash;
    // API-5: a flood meets a connection cap and event-loop-lag shedding before the app.
    const overload = new OverloadGuard(config.overload, logger);
    stops.push(() => overload.stop());
    // NET-1 / FLOW-8: plain HTTP, or TLS with the certificate reloaded on renewal, plus the mTLS port.
    const listeners = createListeners(config, overload.guard(handleRequest), logger);
    stops.push(listeners.stop);
    const server = listeners.main;
    for (const listener of [server, listeners.mtls]) {
      if (!listener) continue;
      overload.watch(listener);
      listener.keepAliveTimeout = 65_000;
      listener.headersTimeout = 66_000;
      listener.requestTimeout = 30_000;
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(explainListenError(error, config.port, config.host, { portVariable: 'PORT', hostVariable: 'HOST' })));
      server.listen(config.port, config.host, () => resolve());
    });
    stops.push(() => server.close());
    const mtlsServer = listeners.mtls;
    if (mtlsServer) {
      await new Promise<void>((resolve, reject) => {
        mtlsServer.once('error', (error) => reject(explainListenError(error, config.mtls?.port ?? 0, config.host, { portVariable: 'MTLS_PORT', hostVariable: 'HOST' })));
        mtlsServer.listen(config.mtls?.port, config.host, () => resolve());
      });
      stops.push(() => mtlsServer.close());
    }
    const { port } = server.address() as AddressInfo;
    const listening = describeListenAddress(server.address() as AddressInfo);
    const metricsSettings = config.metrics;
    const metricsListener = metricsSettings
      ? await metrics.listen(metricsSettings.port, metricsSettings.host).catch((error: unknown) => {
          throw explainListenError(error, metricsSettings.port, metricsSettings.host, {
            portVariable: 'METRICS_PORT',
            hostVariable: 'METRICS_HOST',
            alternative: 'METRICS_PORT=off',
          });
        })
      : undefined;
    if (metricsListener) stops.push(() => void metricsListener.close());
    // The embedded database belongs to this process: the CLI sends its commands here instead.
    const cliSocket = config.database.kind === 'embedded' ? await listenForCli(config.dataDir, { services, provider: async () => live }, logger) : undefined;
    if (cliSocket) stops.push(() => void cliSocket.close());
    const localHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `${config.tls ? 'https' : 'http'}://${localHost}:${port}`;
    const mtls = mtlsServer ? { url: `https://${localHost}:${(mtlsServer.address() as AddressInfo).port}`, server: mtlsServer } : undefined;

    let closing: Promise<void> | undefined;
    // During shutdown, a request on an already open connection is still served, then the
    // connection closes (OPS-6).
    for (const listener of [server, mtlsServer]) {
      listener?.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
        if (closing && !res.headersSent) res.setHeader('Connection', 'close');
      });
    }
    return {
      url,
      listening,
      metricsUrl: metricsListener?.url,
      services,
      live,
      server,
      mtls,
      close() {
        closing ??= (async () => {
          overload.stop();
          live.stop();
          stopSweeper();
          listeners.stop();
          await metricsListener?.close();
          await cliSocket?.close();
          const drain = (listener: http.Server) =>
            new Promise<void>((resolve) => {
              // net.Server's close stops accepting but, unlike http.Server's, does not cut
              // connections that were just accepted and have not sent their request yet.
              net.Server.prototype.close.call(listener, () => resolve());
              const idle = setInterval(() => listener.closeIdleConnections(), IDLE_CONNECTION_GRACE_MS);
              idle.unref();
              listener.once('close', () => clearInterval(idle));
            });
          await Promise.all([drain(server), ...(mtlsServer ? [drain(mtlsServer)] : [])]);
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

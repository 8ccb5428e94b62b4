/**
 * Load shedding (API-5, issue 13 item 3): a flood degrades into fast, honest refusals instead
 * of slow answers. Enforces:
 * - a cap on concurrent connections per process (MAX_CONNECTIONS): a connection beyond it gets
 *   `503` + `Retry-After` on its first request and is closed (or dropped after a second idle);
 * - early `503` while the event loop lags: `perf_hooks.monitorEventLoopDelay` is sampled every
 *   SAMPLE_MS; while the median delay in each of the last two samples is over
 *   OVERLOAD_EVENT_LOOP_DELAY_MS, every request but `/healthz` is refused before any work is
 *   done. The median of two windows, not a high percentile of one: a single long pause (a GC, a
 *   PGlite query) is not overload; every turn being slow is.
 * The per-request cost is reading one boolean and one counter (the bench must not move).
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';

const SAMPLE_MS = 250;
const OVER_CAP_IDLE_MS = 1000;
const RETRY_AFTER_SECONDS = 1;
const BODY = JSON.stringify({ error: 'temporarily_unavailable', error_description: 'The server is overloaded. Retry shortly.' });
const overCap = new WeakSet<Socket>();

export interface OverloadSettings {
  readonly maxConnections: number;
  /** Median event-loop delay (ms) above which requests are shed; 0 turns shedding off. */
  readonly maxEventLoopDelayMs: number;
}

export class OverloadGuard {
  #open = 0;
  #lagging = false;
  #previousSlow = false;
  #shed = 0;
  #histogram: ELDHistogram | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: OverloadSettings,
    private readonly logger: Logger,
  ) {}

  /** Wraps the request handler: refuses before it runs when over the cap or lagging. */
  guard(handler: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse) => {
      if (overCap.has(req.socket) || (this.#lagging && req.url !== '/healthz')) {
        this.#shed += 1;
        res.writeHead(503, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(BODY),
          'Retry-After': String(RETRY_AFTER_SECONDS),
          'Cache-Control': 'no-store',
          Connection: 'close',
        });
        res.end(BODY);
        return;
      }
      handler(req, res);
    };
  }

  /** Counts the server's connections and starts watching the event loop (once, for every listener). */
  watch(server: Server): void {
    // Behind TLS the request's socket is the TLS socket, which exists once the handshake is done.
    server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.#open += 1;
      socket.once('close', () => (this.#open -= 1));
      if (this.#open > this.settings.maxConnections) {
        overCap.add(socket);
        socket.setTimeout(OVER_CAP_IDLE_MS, () => socket.destroy());
      }
    });
    if (this.settings.maxEventLoopDelayMs <= 0 || this.#histogram) return;
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    this.#histogram = histogram;
    this.#timer = setInterval(() => this.#sample(histogram), SAMPLE_MS);
    this.#timer.unref();
  }

  #sample(histogram: ELDHistogram): void {
    const delayMs = histogram.percentile(50) / 1e6;
    histogram.reset();
    // Two slow windows in a row: a single pause lands in one window, a flood fills them all.
    const slow = delayMs > this.settings.maxEventLoopDelayMs;
    const lagging = slow && this.#previousSlow;
    this.#previousSlow = slow;
    if (lagging !== this.#lagging) {
      this.logger.warn({ event: lagging ? 'load_shedding_started' : 'load_shedding_ended', eventLoopDelayMs: Math.round(delayMs), shed: this.#shed, connections: this.#open }, lagging ? 'event loop lagging: shedding requests' : 'event loop recovered: serving again');
    } else if (this.#shed > 0) {
      this.logger.warn({ event: 'load_shed', shed: this.#shed, connections: this.#open, eventLoopDelayMs: Math.round(delayMs) }, 'requests refused for overload');
    }
    if (lagging !== this.#lagging || this.#shed > 0) this.#shed = 0;
    this.#lagging = lagging;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#histogram?.disable();
  }
}

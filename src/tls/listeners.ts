/**
 * The sockets Gatehouse serves on (NET-1, FLOW-8). Enforces: TLS 1.2 minimum with forward-secret
 * AEAD suites only; HTTP/1.1 by ALPN; the main listener never sends a CertificateRequest (a
 * browser must not be prompted); the mTLS listener asks every client for a certificate but
 * leaves the verdict to client authentication (a self-signed certificate is legitimate for
 * `self_signed_tls_client_auth`); a renewed server certificate reaches new handshakes on both,
 * and a rotated MTLS_CA_FILE those on the mTLS listener.
 */
import http from 'node:http';
import https from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { requestPath } from '../http/request-path.js';
import { endpointOf } from '../security/token-requests.js';
import { ClientTrustAnchors, readAnchors } from './client-trust-anchors.js';
import { loadServerCertificate, watchServerCertificate, type ServerCertificate } from './server-certificate.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

// Mozilla's "intermediate" profile without the finite-field DHE suites: ECDHE + AEAD only.
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** The endpoints served on the mTLS listener (RFC 8705 section 5): token-style calls only. */
export const MTLS_PATHS = new Set(['/token', '/token/introspection', '/token/revocation', '/me', '/request', '/healthz', '/readyz']);

export interface Listeners {
  readonly main: http.Server;
  readonly mtls: https.Server | undefined;
  stop(): void;
}

function secureContextOptions(certificate: ServerCertificate, clientCa: Buffer | undefined): SecureContextOptions {
  return {
    cert: certificate.cert,
    key: certificate.key,
    minVersion: 'TLSv1.2',
    ciphers: [...TLS13_SUITES, ...TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
    ...(clientCa ? { ca: clientCa } : {}),
  };
}

/**
 * Startup check (NET-1): the certificate, key and client CA files can serve, before a database
 * is opened or a worker forked. Throws an Error whose message is one line for the operator.
 */
export function checkTransportFiles(config: Config): void {
  if (config.tls) loadServerCertificate(config.tls);
  if (config.mtls?.caFile) readAnchors(config.mtls.caFile);
}

const HSTS = 'max-age=31536000; includeSubDomains';

/** NET-2 on every response over https, including ones answered before the app's header step. */
function withHsts(handler: Handler): Handler {
  return (req, res) => {
    res.setHeader('Strict-Transport-Security', HSTS);
    handler(req, res);
  };
}

const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'] as const;

/** Only the RFC 8705 endpoints answer on the mTLS port; anything else is not there. */
function mtlsOnly(handler: Handler): Handler {
  return (req, res) => {
    // Folded as the engine's router folds it (case, trailing slash), from the path Koa will see.
    if (MTLS_PATHS.has(endpointOf(requestPath(req.url)))) {
      // Clients reach this port directly (Gatehouse terminates its TLS), so no proxy stands in
      // front to vouch for forwarded addresses: with TRUST_PROXY they would be the client's word.
      for (const name of FORWARDED_HEADERS) delete req.headers[name];
      handler(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"error":"not_found"}');
  };
}

/**
 * Plain HTTP unless TLS is configured; plus the mTLS listener when MTLS_PORT is set. The
 * listeners live as long as the server, so they keep the server certificate and MTLS_CA_FILE
 * followed (also behind a proxy: forwarded certificates are checked against MTLS_CA_FILE too).
 */
export function createListeners(config: Config, handler: Handler, logger: Logger): Listeners {
  const trust = config.mtls?.caFile ? ClientTrustAnchors.of(config.mtls, logger) : undefined;
  if (!config.tls) return { main: http.createServer(handler), mtls: undefined, stop: trust?.follow() ?? (() => undefined) };
  let certificate = loadServerCertificate(config.tls);
  const main = https.createServer({ ...secureContextOptions(certificate, undefined), ALPNProtocols: ['http/1.1'] }, withHsts(handler));
  const mtls =
    config.mtls?.port !== undefined
      ? https.createServer(
          { ...secureContextOptions(certificate, trust?.current.pem), ALPNProtocols: ['http/1.1'], requestCert: true, rejectUnauthorized: false },
          withHsts(mtlsOnly(handler)),
        )
      : undefined;
  const stopCertificate = watchServerCertificate(
    config.tls,
    certificate,
    (renewed) => {
      certificate = renewed;
      main.setSecureContext(secureContextOptions(renewed, undefined));
      mtls?.setSecureContext(secureContextOptions(renewed, trust?.current.pem));
    },
    logger,
  );
  const stopAnchors = trust?.follow((anchors) => mtls?.setSecureContext(secureContextOptions(certificate, anchors.pem)));
  return {
    main,
    mtls,
    stop: () => {
      stopCertificate();
      stopAnchors?.();
    },
  };
}

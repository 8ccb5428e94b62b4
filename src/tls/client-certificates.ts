/**
 * The client certificate a request presents (FLOW-8, RFC 8705): from the TLS handshake on the
 * mTLS listener, or from the forwarding header when the TCP peer is a trusted proxy. Enforces:
 * a chain counts as verified only against MTLS_CA_FILE as it reads now, never the system roots
 * (client-trust-anchors.ts follows the file; a cached verdict dies with the anchors it used); a
 * forwarded certificate is verified here too, whatever the proxy did, through any chain the proxy
 * forwarded with it (certificate-path.ts); an expired or not-yet-valid
 * certificate is reported as such so client authentication can refuse it; subject matching
 * per RFC 8705 section 2.1.2 (DN, or one SAN of the registered kind).
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { MtlsSettings } from '../config/index.js';
import { MAX_INTERMEDIATES, chainsToAnchor, isCurrent } from './certificate-path.js';
import { ClientTrustAnchors } from './client-trust-anchors.js';
import { TrustedProxies, forwardedCertificates } from './forwarded-certificate.js';

export interface PresentedCertificate {
  readonly certificate: X509Certificate;
  /** The chain reaches a CA certificate from MTLS_CA_FILE. */
  readonly verified: boolean;
  /** Now is within the certificate's validity period. */
  readonly current: boolean;
  readonly via: 'tls' | 'header';
}

export type SubjectProperty =
  | 'tls_client_auth_subject_dn'
  | 'tls_client_auth_san_dns'
  | 'tls_client_auth_san_uri'
  | 'tls_client_auth_san_ip'
  | 'tls_client_auth_san_email';

// A service sends the same forwarded certificate on every call: parsing and verifying it costs
// ~0.2 ms, so the verdict is kept a while (validity dates are still checked on every request).
const FORWARDED_CACHE_MAX = 512;
const FORWARDED_CACHE_MS = 60_000;

// OpenSSL's verdicts when the path stops short of a self-signed certificate in the bundle.
const NO_ISSUER_FOUND = new Set(['UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);

export class ClientCertificates {
  readonly #trust: ClientTrustAnchors | undefined;
  readonly #proxies: TrustedProxies | undefined;
  readonly #seen = new WeakMap<IncomingMessage, PresentedCertificate | null>();
  // `anchors` is the set a verdict was reached with: after MTLS_CA_FILE changes it no longer counts.
  readonly #forwarded = new Map<string, { certificate: X509Certificate; verified: boolean; at: number; anchors: readonly X509Certificate[] }>();

  constructor(
    private readonly settings: MtlsSettings,
    private readonly logger: Logger,
  ) {
    // Shared with the mTLS listener, which keeps it following the file (src/tls/listeners.ts).
    this.#trust = settings.caFile ? ClientTrustAnchors.of(settings, logger) : undefined;
    this.#proxies = settings.forwarded ? new TrustedProxies(settings.forwarded.trustedProxies) : undefined;
  }

  get #anchors(): readonly X509Certificate[] {
    return this.#trust?.current.certificates ?? [];
  }

  of(req: IncomingMessage): PresentedCertificate | undefined {
    let presented = this.#seen.get(req);
    if (presented === undefined) {
      presented = this.fromHandshake(req) ?? this.fromHeader(req) ?? null;
      this.#seen.set(req, presented);
    }
    return presented ?? undefined;
  }

  private fromHandshake(req: IncomingMessage): PresentedCertificate | undefined {
    const socket = req.socket as Partial<TLSSocket>;
    if (!socket.encrypted || typeof socket.getPeerX509Certificate !== 'function') return undefined;
    const certificate = socket.getPeerX509Certificate();
    if (!certificate) return undefined;
    // Node verified the chain against the listener's `ca`, which is MTLS_CA_FILE; without that
    // file it would have used the system roots, which prove nothing about a client.
    const verified = this.#anchors.length > 0 && (socket.authorized === true || this.reachesIntermediateAnchor(socket as TLSSocket, certificate));
    return { certificate, verified, current: isCurrent(certificate), via: 'tls' };
  }

  /**
   * OpenSSL wants a path up to a self-signed root, and Node's TLS server cannot be told otherwise
   * (it drops `allowPartialTrustChain`); but an intermediate in MTLS_CA_FILE ends a path, as it
   * does for forwarded certificates. So where OpenSSL found no issuer — and only there — the
   * certificates the client sent are checked as a forwarded chain would be.
   */
  private reachesIntermediateAnchor(socket: TLSSocket, leaf: X509Certificate): boolean {
    // Node sets the OpenSSL code here, not an Error as its types say.
    const reason = socket.authorizationError as unknown;
    if (typeof reason !== 'string' || !NO_ISSUER_FOUND.has(reason)) return false;
    const sent: X509Certificate[] = [];
    for (let link = socket.getPeerCertificate(true).issuerCertificate; link?.raw && sent.length <= MAX_INTERMEDIATES + 1; link = link.issuerCertificate) {
      const certificate = new X509Certificate(link.raw);
      if (sent.some((seen) => seen.fingerprint256 === certificate.fingerprint256)) break;
      sent.push(certificate);
    }
    return chainsToAnchor(leaf, sent, this.#anchors);
  }

  private fromHeader(req: IncomingMessage): PresentedCertificate | undefined {
    const forwarded = this.settings.forwarded;
    if (!forwarded || !this.#proxies) return undefined;
    const header = req.headers[forwarded.header];
    if (header === undefined) return undefined;
    if (!this.#proxies.has(req.socket.remoteAddress)) return undefined;
    const cached = typeof header === 'string' ? this.#forwarded.get(header) : undefined;
    if (cached && Date.now() - cached.at < FORWARDED_CACHE_MS && cached.anchors === this.#anchors) {
      return { certificate: cached.certificate, verified: cached.verified, current: isCurrent(cached.certificate), via: 'header' };
    }
    const pems = forwardedCertificates(header);
    if (!pems) {
      this.logger.warn({ header: forwarded.header }, 'forwarded client certificate header holds no certificate; ignored');
      return undefined;
    }
    let certificate: X509Certificate;
    let intermediates: X509Certificate[];
    try {
      certificate = new X509Certificate(pems.leaf);
      intermediates = pems.intermediates.map((pem) => new X509Certificate(pem));
    } catch {
      this.logger.warn({ header: forwarded.header }, 'forwarded client certificate cannot be parsed; ignored');
      return undefined;
    }
    const anchors = this.#anchors;
    const verified = chainsToAnchor(certificate, intermediates, anchors);
    if (this.#forwarded.size >= FORWARDED_CACHE_MAX) this.#forwarded.clear();
    this.#forwarded.set(header as string, { certificate, verified, at: Date.now(), anchors });
    return { certificate, verified, current: isCurrent(certificate), via: 'header' };
  }
}

/** RFC 8705 2.1.2: the registered value matches the certificate's subject DN or one SAN of that kind. */
export function certificateSubjectMatches(certificate: X509Certificate, property: SubjectProperty, expected: string): boolean {
  if (property === 'tls_client_auth_subject_dn') return distinguishedNamesEqual(certificate.subject ?? '', expected);
  const kind = { tls_client_auth_san_dns: 'DNS', tls_client_auth_san_uri: 'URI', tls_client_auth_san_ip: 'IP Address', tls_client_auth_san_email: 'email' }[property];
  const values = subjectAltNames(certificate.subjectAltName).filter((san) => san.kind === kind).map((san) => san.value);
  switch (property) {
    case 'tls_client_auth_san_dns':
    case 'tls_client_auth_san_email':
      return values.some((value) => value.toLowerCase() === expected.toLowerCase());
    case 'tls_client_auth_san_uri':
      return values.includes(expected);
    case 'tls_client_auth_san_ip':
      return values.some((value) => sameAddress(value, expected));
  }
}

function sameAddress(a: string, b: string): boolean {
  const family = isIP(b);
  if (!family || isIP(a) !== family) return false;
  const list = new BlockList();
  list.addAddress(b, family === 6 ? 'ipv6' : 'ipv4');
  return list.check(a, family === 6 ? 'ipv6' : 'ipv4');
}

/** Node's `subjectAltName`: `DNS:a, URI:b, IP Address:c`, values JSON-quoted when they hold separators. */
export function subjectAltNames(text: string | undefined): { kind: string; value: string }[] {
  if (!text) return [];
  const entries: { kind: string; value: string }[] = [];
  const pattern = /(DNS|URI|IP Address|email|othername|DirName|Registered ID):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const match of text.matchAll(pattern)) {
    const raw = match[2] ?? '';
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    entries.push({ kind: match[1]!, value });
  }
  return entries;
}

const ATTRIBUTE_ALIASES: Record<string, string> = { E: 'EMAILADDRESS', S: 'ST', '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C' };

/**
 * RFC 4514 string (`CN=a+OU=b,O=c`, most specific first) → RDNs, each its attribute pairs
 * (unescaped, normalised, sorted: the attributes of a multi-valued RDN have no order).
 */
function rfc4514Rdns(dn: string): string[][] {
  const rdns: string[][] = [];
  let pairs: string[] = [];
  let current = '';
  for (let i = 0; i < dn.length; i += 1) {
    const char = dn[i]!;
    if (char === '\\' && i + 1 < dn.length) {
      const hex = dn.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        current += String.fromCharCode(Number.parseInt(hex, 16));
        i += 2;
      } else {
        current += dn[i + 1];
        i += 1;
      }
    } else if (char === '+') {
      pairs.push(normalisePair(current));
      current = '';
    } else if (char === ',' || char === ';') {
      rdns.push([...pairs, normalisePair(current)].sort());
      pairs = [];
      current = '';
    } else {
      current += char;
    }
  }
  rdns.push([...pairs, normalisePair(current)].sort());
  return rdns;
}

function normalisePair(pair: string): string {
  const equals = pair.indexOf('=');
  if (equals < 0) return pair.trim();
  const type = pair.slice(0, equals).trim().toUpperCase();
  return `${ATTRIBUTE_ALIASES[type] ?? type}=${pair.slice(equals + 1).trim()}`;
}

/**
 * Node prints the subject one RDN per line in certificate order (`O=Example\, Inc.`, multi-valued
 * as `CN=a + OU=b`); RFC 4514 lists the RDNs reversed.
 */
export function distinguishedNamesEqual(certificateSubject: string, expected: string): boolean {
  // One line is one RDN; a line never holds an unescaped comma, so it parses as a single RDN.
  const actual = certificateSubject.split('\n').filter(Boolean).flatMap(rfc4514Rdns);
  const wanted = rfc4514Rdns(expected);
  if (actual.length !== wanted.length) return false;
  const sameRdn = (a: string[], b: string[]) => a.length === b.length && a.every((pair, i) => pair === b[i]);
  const same = (a: string[][], b: string[][]) => a.every((rdn, i) => sameRdn(rdn, b[i] ?? []));
  return same(actual, wanted) || same([...actual].reverse(), wanted);
}

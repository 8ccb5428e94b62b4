/**
 * The client certificate a request presents (FLOW-8, RFC 8705): from the TLS handshake on the
 * mTLS listener, or from the forwarding header when the TCP peer is a trusted proxy. Enforces:
 * a chain counts as verified only against MTLS_CA_FILE as it reads now, never the system roots
 * (client-trust-anchors.ts follows the file; a cached verdict dies with the anchors it used); a
 * forwarded certificate is verified here too, whatever the proxy did; an expired or not-yet-valid
 * certificate is reported as such so client authentication can refuse it; subject matching
 * per RFC 8705 section 2.1.2 (DN, or one SAN of the registered kind).
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { MtlsSettings } from '../config/index.js';
import { ClientTrustAnchors } from './client-trust-anchors.js';
import { TrustedProxies, forwardedCertificatePem } from './forwarded-certificate.js';

// Extended key usages (RFC 5280 4.2.1.12): TLS client authentication, and "any".
const CLIENT_AUTH_USAGE = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_USAGE = '2.5.29.37.0';

export interface PresentedCertificate {
  readonly certificate: X509Certificate;
  /** The chain ends in a certificate from MTLS_CA_FILE. */
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

function isCurrent(certificate: X509Certificate, now = Date.now()): boolean {
  return Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
}

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

  /** Whether `tls_client_auth` can work at all: it needs trust anchors. */
  get hasTrustAnchors(): boolean {
    return this.#anchors.length > 0;
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
    const verified = this.#anchors.length > 0 && socket.authorized === true;
    return { certificate, verified, current: isCurrent(certificate), via: 'tls' };
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
    const pem = forwardedCertificatePem(header);
    if (!pem) {
      this.logger.warn({ header: forwarded.header }, 'forwarded client certificate header holds no certificate; ignored');
      return undefined;
    }
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch {
      this.logger.warn({ header: forwarded.header }, 'forwarded client certificate cannot be parsed; ignored');
      return undefined;
    }
    const anchors = this.#anchors;
    const verified = this.chainsToAnchor(certificate, anchors);
    if (this.#forwarded.size >= FORWARDED_CACHE_MAX) this.#forwarded.clear();
    this.#forwarded.set(header as string, { certificate, verified, at: Date.now(), anchors });
    return { certificate, verified, current: isCurrent(certificate), via: 'header' };
  }

  /**
   * The leaf is signed by a CA certificate in MTLS_CA_FILE that is itself within its validity, and
   * may be used for client authentication — what the handshake's own check asks of a certificate.
   */
  private chainsToAnchor(leaf: X509Certificate, anchors: readonly X509Certificate[]): boolean {
    const usages = leaf.keyUsage; // Node names the extended key usages so
    if (usages && !usages.includes(CLIENT_AUTH_USAGE) && !usages.includes(ANY_EXTENDED_USAGE)) return false;
    return anchors.some((anchor) => anchor.ca && isCurrent(anchor) && leaf.checkIssued(anchor) && leaf.verify(anchor.publicKey));
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

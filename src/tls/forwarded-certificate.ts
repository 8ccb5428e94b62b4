/**
 * Client certificates forwarded by a proxy or service-mesh sidecar that terminated mTLS
 * (FLOW-8). Enforces: the header counts only from a peer in TRUSTED_PROXIES — the TCP peer, not
 * anything the request says about itself; two formats, Envoy/Istio's x-forwarded-client-cert
 * (`...;Cert="<url-encoded PEM>";Chain="<url-encoded PEMs, leaf first>"`) and nginx's
 * URL-encoded PEM of the leaf alone (`$ssl_client_escaped_cert`); a header that names more than
 * one certificate, or more than one chain, is no certificate: Envoy leaves values such as a URI
 * SAN unquoted, so a client certificate whose SAN reads `x,Cert="<someone else's PEM>"` could
 * otherwise pose as a second, nearer element; with both Cert and Chain the chain must start with
 * that certificate; a chain longer than certificate-path.ts could use is no certificate either.
 * The intermediates are only offered: certificate-path.ts decides whether they lead anywhere.
 */
import { BlockList, isIP } from 'node:net';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { MAX_INTERMEDIATES, PEM_CERTIFICATES } from './certificate-path.js';

const CERT_KEYS = /(^|[;,\s])cert=/gi;
const CHAIN_KEYS = /(^|[;,\s])chain=/gi;
const PEM_BEGINS = /-----BEGIN CERTIFICATE-----/g;
// Leaf, the intermediates a path may use, and the root a client may send along.
const MAX_CHAIN = MAX_INTERMEDIATES + 2;

export interface ForwardedCertificates {
  /** PEM of the client's certificate. */
  readonly leaf: string;
  /** PEMs the proxy saw the client send with it (XFCC `Chain`), in the order sent. */
  readonly intermediates: readonly string[];
}

/** Peer addresses whose forwarded certificate header is believed. */
export class TrustedProxies {
  readonly #list = new BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address = '', prefix] = entry.split('/');
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.#list.addAddress(address, type);
      else this.#list.addSubnet(address, Number(prefix), type);
    }
  }

  has(address: string | undefined): boolean {
    if (!address) return false;
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const unmapped = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const type = isIP(unmapped) === 6 ? 'ipv6' : 'ipv4';
    return this.#list.check(unmapped, type);
  }
}

/** Splits on `separator` outside double quotes. */
function splitOutsideQuotes(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i += 1) {
    const char = value[i]!;
    if (char === '\\' && quoted && i + 1 < value.length) {
      current += char + value[i + 1]!;
      i += 1;
    } else if (char === '"') {
      quoted = !quoted;
      current += char;
    } else if (char === separator && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

function unquote(value: string): string {
  const trimmed = value.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1).replace(/\\(.)/g, '$1') : trimmed;
}

function decoded(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** The PEMs in URL-encoded text, re-wrapped; undefined unless it holds 1..max of them. */
function pemsIn(encoded: string | undefined, max: number): string[] | undefined {
  const text = encoded === undefined ? undefined : decoded(encoded);
  if (!text) return undefined;
  const count = text.match(PEM_BEGINS)?.length ?? 0;
  const pems = text.match(PEM_CERTIFICATES) ?? [];
  if (count < 1 || count > max || pems.length !== count) return undefined;
  return pems.map((pem) => {
    // nginx's older $ssl_client_cert folds lines with tabs; PEM decoders want plain newlines.
    const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
    return `-----BEGIN CERTIFICATE-----\n${body.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  });
}

/** The forwarded certificate and any chain that came with it, in either format, or undefined. */
export function forwardedCertificates(header: string | string[] | undefined): ForwardedCertificates | undefined {
  if (typeof header !== 'string' || !header || header.length > 32 * 1024) return undefined;
  const certKeys = header.match(CERT_KEYS)?.length ?? 0;
  const chainKeys = header.match(CHAIN_KEYS)?.length ?? 0;
  if (certKeys > 1 || chainKeys > 1) return undefined;
  if (!certKeys && !chainKeys) {
    const [leaf] = pemsIn(header, 1) ?? [];
    return leaf ? { leaf, intermediates: [] } : undefined;
  }
  const cert = certKeys ? pemsIn(xfccValue(header, 'cert'), 1)?.[0] : undefined;
  const chain = chainKeys ? pemsIn(xfccValue(header, 'chain'), MAX_CHAIN) : undefined;
  if ((certKeys && !cert) || (chainKeys && !chain)) return undefined;
  if (cert && chain && chain[0] !== cert) return undefined;
  const [leaf, ...intermediates] = chain ?? [cert!];
  return { leaf: leaf!, intermediates };
}

/** The PEM of the forwarded leaf certificate in either format, or undefined. */
export function forwardedCertificatePem(header: string | string[] | undefined): string | undefined {
  return forwardedCertificates(header)?.leaf;
}

function xfccValue(header: string, key: 'cert' | 'chain'): string | undefined {
  for (const pair of splitOutsideQuotes(header, ',').flatMap((element) => splitOutsideQuotes(element, ';'))) {
    const equals = pair.indexOf('=');
    if (equals > 0 && pair.slice(0, equals).trim().toLowerCase() === key) return unquote(pair.slice(equals + 1));
  }
  return undefined;
}

/**
 * Edge step: a certificate header from a peer outside TRUSTED_PROXIES is logged and removed
 * before anything else can read it (someone is trying to claim a certificate they do not hold,
 * or a proxy is missing from the list).
 */
export function dropUntrustedCertificateHeaders(
  forwarded: { readonly header: string; readonly trustedProxies: readonly string[] } | undefined,
  logger: Logger,
): Middleware {
  if (!forwarded) return (_ctx, next) => next();
  const proxies = new TrustedProxies(forwarded.trustedProxies);
  return (ctx, next) => {
    const peer = ctx.req.socket.remoteAddress;
    if (ctx.req.headers[forwarded.header] !== undefined && !proxies.has(peer)) {
      logger.warn({ peer, header: forwarded.header }, 'client certificate header from a peer not in TRUSTED_PROXIES ignored');
      delete ctx.req.headers[forwarded.header];
    }
    return next();
  };
}

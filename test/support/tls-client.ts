/**
 * HTTPS as a client sees it: a request over a fresh TLS connection (or a given agent) trusting
 * the test CA, optionally presenting a client certificate, reporting what the handshake showed
 * (server certificate serial, protocol, ALPN). Also a `fetch` for openid-client's customFetch.
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface TlsIdentity {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly serverSerial: string;
  readonly protocol: string | null;
}

export interface HttpsOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly agent?: https.Agent;
  /** The client's source address (e.g. 127.0.0.2, to stand in for a proxy). */
  readonly localAddress?: string;
}

export function httpsRequest(url: string, identity: TlsIdentity, options: HttpsOptions = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: { ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}), ...options.headers },
        ca: identity.ca,
        ...(identity.cert ? { cert: identity.cert, key: identity.key } : {}),
        agent: options.agent ?? false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (response) => {
        const socket = response.socket as TLSSocket;
        const serverSerial = socket.getPeerCertificate().serialNumber;
        const protocol = socket.getProtocol();
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8'), serverSerial, protocol }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

export function tokenRequest(url: string, identity: TlsIdentity, fields: Record<string, string>, options: Pick<HttpsOptions, 'headers' | 'localAddress'> = {}) {
  return httpsRequest(url, identity, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
    body: form(fields),
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
}

/** A `fetch` over node:https with this identity, for openid-client's `customFetch`. */
export function fetchWith(identity: TlsIdentity) {
  return async (input: string | URL, init: { method?: string; headers?: ConstructorParameters<typeof Headers>[0]; body?: unknown } = {}): Promise<Response> => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const answer = await httpsRequest(String(input), identity, { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    return new Response(answer.body || null, { status: answer.status, headers: responseHeaders });
  };
}

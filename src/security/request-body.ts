/**
 * Reads the (small, form-encoded) body of the token, introspection and revocation requests
 * before the engine does, so the edge can see who is calling, then hands the engine a request
 * that replays the same bytes. Enforces the engine's own size limit first.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { parse } from 'node:querystring';

export const BODY_LIMIT = 56 * 1024;

export class BodyTooLarge extends Error {}

export async function readFormBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number.parseInt(req.headers['content-length'] ?? '', 10);
  if (Number.isFinite(declared) && declared > BODY_LIMIT) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

export function parseForm(body: Buffer): Record<string, string | string[] | undefined> {
  return parse(body.toString('utf8'));
}

/** A request object the engine can read again: same headers, socket and URL, body from `body`. */
export function replayRequest(original: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = Readable.from([body], { objectMode: false });
  const headers = { ...original.headers, 'content-length': String(body.length) };
  delete headers['transfer-encoding'];
  return Object.assign(replay, {
    headers,
    rawHeaders: original.rawHeaders,
    method: original.method,
    url: original.url,
    socket: original.socket,
    connection: original.socket,
    httpVersion: original.httpVersion,
    httpVersionMajor: original.httpVersionMajor,
    httpVersionMinor: original.httpVersionMinor,
    complete: true,
    aborted: false,
    trailers: {},
    rawTrailers: [],
  }) as unknown as IncomingMessage;
}

/** The client a token-endpoint style request names: Basic credentials first, then the body. */
export function clientIdOf(authorization: string | undefined, form: Record<string, string | string[] | undefined>): string | undefined {
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      try {
        return decodeURIComponent(decoded.slice(0, colon));
      } catch {
        return undefined;
      }
    }
  }
  const fromBody = form['client_id'];
  return typeof fromBody === 'string' && fromBody ? fromBody : undefined;
}

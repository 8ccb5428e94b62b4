/**
 * Reads the (small, form-encoded) body of the token, introspection and revocation requests
 * before the engine does, so the edge can see who is calling, then puts a request that replays
 * the same bytes in the context's place (`replaceBody`), where the engine's parser reads it. Enforces the one body limit (API-5): the engine's own 56 KiB,
 * for every endpoint, declared or chunked; over it the answer is 413 (see body-limit.ts).
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { parse } from 'node:querystring';

/** The one request-body limit for every endpoint (the engine's own). */
export const BODY_LIMIT = 56 * 1024;

/** A body over BODY_LIMIT: answered 413 by the error boundary, the same for every endpoint. */
export class BodyTooLarge extends Error {
  readonly status = 413;
  readonly expose = true;

  constructor(limit = BODY_LIMIT, hint = '') {
    super(`the request body is too large (at most ${limit / 1024} KiB)${hint}`);
    this.name = 'BodyTooLarge';
  }
}

export async function readFormBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number.parseInt(req.headers['content-length'] ?? '', 10);
  if (Number.isFinite(declared) && declared > BODY_LIMIT) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Leaving the loop early must not destroy the request: its socket still has to carry the 413.
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      size += (chunk as Buffer).length;
      if (size > BODY_LIMIT) throw new BodyTooLarge();
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof BodyTooLarge) throw error;
    // The client went away or sent broken chunking: its fault, not ours.
    throw Object.assign(new Error('the request body could not be read'), { status: 400, expose: true });
  }
  return Buffer.concat(chunks, size);
}

export function parseForm(body: Buffer): Record<string, string | string[] | undefined> {
  return parse(body.toString('utf8'));
}

/**
 * Hands the rest of the chain (and the engine's own body parser) a request that replays `body`:
 * the edge read the original stream, and the engine reads `ctx.req` itself.
 */
export function replaceBody(ctx: { req: IncomingMessage; request: { req: IncomingMessage }; response: { req: IncomingMessage } }, body: Buffer): IncomingMessage {
  const replay = replayRequest(ctx.req, body);
  ctx.req = replay;
  ctx.request.req = replay;
  ctx.response.req = replay;
  return replay;
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

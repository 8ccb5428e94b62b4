/**
 * SPA-1 the reference resource server (examples/spa/api): it accepts a well-formed token and
 * refuses each forged kind with 401 and an RFC 6750 challenge, and honours sender constraints
 * (RFC 8705 certificate binding, RFC 9449 DPoP). The tokens are minted here with a test key that
 * the test publishes as the API's JWKS: this tests the resource server, not the issuer.
 */
import { randomUUID, createHash, X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { base64url, calculateJwkThumbprint, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApi, type RunningDemoApi } from '../../examples/spa/api/server.js';
import { certificateThumbprint } from '../../examples/spa/api/verify-access-token.js';
import { selfSignedCertificate, type SelfSigned } from '../support/self-signed.js';

const ISSUER = 'https://issuer.test.example';
const AUDIENCE = 'https://api.test.example';

let jwksServer: http.Server;
let api: RunningDemoApi;
let signing: { privateKey: CryptoKey; publicKey: CryptoKey };
let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
let stranger: { privateKey: CryptoKey; publicKey: CryptoKey };
let holder: { privateKey: CryptoKey; publicJwk: JWK; jkt: string };
let clientCert: SelfSigned;
let otherCert: SelfSigned;

beforeAll(async () => {
  signing = await generateKeyPair('ES256', { extractable: true });
  rsa = await generateKeyPair('RS256', { extractable: true });
  stranger = await generateKeyPair('ES256');
  const dpopKeys = await generateKeyPair('ES256');
  const publicJwk = await exportJWK(dpopKeys.publicKey);
  holder = { privateKey: dpopKeys.privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
  const jwks = { keys: [{ ...(await exportJWK(signing.publicKey)), kid: 'ec', use: 'sig', alg: 'ES256' }, { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', use: 'sig', alg: 'RS256' }] };
  jwksServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const serverCert = selfSignedCertificate('localhost');
  clientCert = selfSignedCertificate('client-one');
  otherCert = selfSignedCertificate('client-two');
  api = await startDemoApi({
    port: 0,
    host: 'localhost',
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`,
    allowedOrigins: [],
    tls: serverCert,
  });
});

afterAll(async () => {
  await api?.close();
  await new Promise((resolve) => jwksServer?.close(resolve));
});

async function mint(claims: JWTPayload = {}, header: Record<string, unknown> = {}, key: CryptoKey = signing.privateKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-123', iat: now, exp: now + 60, client_id: 'spa-bff', scope: 'openid demo:read', jti: randomUUID(), ...claims };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'ec', ...header } as { alg: string })
    .sign(key);
}

async function proof(token: string, overrides: JWTPayload = {}, key = holder.privateKey, jwk = holder.publicJwk, alg = 'ES256'): Promise<string> {
  return new SignJWT({
    htm: 'GET',
    htu: `${api.url}/api/hello`,
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ath: createHash('sha256').update(token).digest('base64url'),
    ...overrides,
  })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
    .sign(key);
}

interface Answer {
  readonly status: number;
  readonly challenge: string;
  readonly body: Record<string, unknown>;
}

function call(headers: Record<string, string>, cert?: SelfSigned): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = https.request(`${api.url}/api/hello`, { headers, rejectUnauthorized: false, ...(cert ? { key: cert.key, cert: cert.cert } : {}) }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, challenge: String(response.headers['www-authenticate'] ?? ''), body: JSON.parse(text) as Record<string, unknown> }));
    });
    request.on('error', reject);
    request.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function expectRefused(answer: Answer, error = 'invalid_token', status = 401, scheme = 'Bearer') {
  expect(answer.status).toBe(status);
  expect(answer.challenge.startsWith(`${scheme} realm="${AUDIENCE}"`)).toBe(true);
  expect(answer.challenge).toContain(`error="${error}"`);
  expect(answer.body).toEqual({ error });
}

describe('SPA-1 resource server: token verification', () => {
  it('accepts a genuine token and answers with its subject', async () => {
    const answer = await call(bearer(await mint()));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ sub: 'user-123', client_id: 'spa-bff' });
  });

  it('asks for a token without an error code when none is sent (RFC 6750 §3.1)', async () => {
    const answer = await call({});
    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/^Bearer realm="[^"]+", DPoP realm="[^"]+", algs="ES256 EdDSA Ed25519 PS256"$/);
  });

  it('refuses alg none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));
    const payload = (await mint()).split('.')[1];
    expectRefused(await call(bearer(`${header}.${payload}.`)));
  });

  it('refuses HS256 keyed with the published public key (PEM and JWK forms)', async () => {
    const pem = await exportSPKI(signing.publicKey);
    const jwk = JSON.stringify(await exportJWK(signing.publicKey));
    for (const secret of [pem, jwk]) {
      const token = await mint({}, { alg: 'HS256' }, new TextEncoder().encode(secret) as unknown as CryptoKey);
      expectRefused(await call(bearer(token)));
    }
  });

  it('refuses an algorithm it did not pin, even signed by a published key', async () => {
    expectRefused(await call(bearer(await mint({}, { alg: 'RS256', kid: 'rsa' }, rsa.privateKey))));
  });

  it('refuses a token signed by a key that is not published', async () => {
    expectRefused(await call(bearer(await mint({}, {}, stranger.privateKey))));
  });

  it('refuses an expired token', async () => {
    const past = Math.floor(Date.now() / 1000) - 120;
    const answer = await call(bearer(await mint({ iat: past - 60, exp: past })));
    expectRefused(answer);
    expect(answer.challenge).toContain('error_description="the access token expired"');
  });

  it('refuses a token for another audience, from another issuer, or not typed at+jwt', async () => {
    expectRefused(await call(bearer(await mint({ aud: 'https://other-api.test.example' }))));
    expectRefused(await call(bearer(await mint({ iss: 'https://evil.test.example' }))));
    expectRefused(await call(bearer(await mint({}, { typ: 'JWT' }))));
  });

  it('answers 403 insufficient_scope when the scope is missing', async () => {
    const answer = await call(bearer(await mint({ scope: 'openid' })));
    expectRefused(answer, 'insufficient_scope', 403);
    expect(answer.challenge).toContain('scope="demo:read"');
  });
});

describe('SPA-1 resource server: sender-constrained tokens', () => {
  it('RFC 8705: a certificate-bound token works only over TLS with that client certificate', async () => {
    const thumbprint = certificateThumbprint(new X509Certificate(clientCert.cert).raw);
    const token = await mint({ cnf: { 'x5t#S256': thumbprint } });
    const answer = await call(bearer(token), clientCert);
    expect(answer.status).toBe(200);
    expectRefused(await call(bearer(token)));
    expectRefused(await call(bearer(token), otherCert));
  });

  it('RFC 9449: a DPoP-bound token works with the DPoP scheme and a fresh proof by its key', async () => {
    const token = await mint({ cnf: { jkt: holder.jkt } });
    const answer = await call({ authorization: `DPoP ${token}`, dpop: await proof(token) });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ sub: 'user-123' });
  });

  it('RFC 9449: refuses a DPoP-bound token sent as Bearer, or a Bearer token sent as DPoP', async () => {
    const bound = await mint({ cnf: { jkt: holder.jkt } });
    expectRefused(await call({ ...bearer(bound), dpop: await proof(bound) }));
    const plain = await mint();
    expectRefused(await call({ authorization: `DPoP ${plain}`, dpop: await proof(plain) }), 'invalid_token', 401, 'DPoP');
  });

  it('RFC 9449: refuses a missing, mismatched, stale, replayed or wrongly signed proof', async () => {
    const token = await mint({ cnf: { jkt: holder.jkt } });
    const dpop = (proofJwt: string) => ({ authorization: `DPoP ${token}`, dpop: proofJwt });
    const refusedProof = async (headers: Record<string, string>) => {
      const answer = await call(headers);
      expectRefused(answer, 'invalid_dpop_proof', 401, 'DPoP');
      expect(answer.challenge).toContain('algs="ES256 EdDSA Ed25519 PS256"');
    };
    await refusedProof({ authorization: `DPoP ${token}` });
    await refusedProof(dpop(await proof(token, { htm: 'POST' })));
    await refusedProof(dpop(await proof(token, { htu: `${api.url}/api/other` })));
    await refusedProof(dpop(await proof(token, { iat: Math.floor(Date.now() / 1000) - 600 })));
    await refusedProof(dpop(await proof(token, { iat: Math.floor(Date.now() / 1000) + 600 })));
    await refusedProof(dpop(await proof(token, { ath: createHash('sha256').update('another token').digest('base64url') })));
    // Signed by a different key than the token is bound to (its own jwk, so the signature is fine).
    const other = await generateKeyPair('ES256');
    await refusedProof(dpop(await proof(token, {}, other.privateKey, await exportJWK(other.publicKey))));
    // An algorithm outside the pinned list.
    await refusedProof(dpop(await proof(token, {}, rsa.privateKey, await exportJWK(rsa.publicKey), 'RS256')));
    const once = await proof(token);
    expect((await call(dpop(once))).status).toBe(200);
    await refusedProof(dpop(once));
  });
});

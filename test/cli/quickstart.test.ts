/**
 * The newcomer's path on the embedded database: `gatehouse quickstart`, then `npm start`, then
 * the printed client-credentials request and login URL work as printed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../support/browser-over-http.js';
import { createTestStorage, freePort, startTestServer, type TestServer, type TestStorage } from '../support/server.js';

let storage: TestStorage;
let server: TestServer | undefined;

interface QuickstartOutput {
  api: string;
  serviceClient: { clientId: string; clientSecret: string };
  spaClient: { clientId: string; redirectUri: string };
  user: { username: string; password: string };
  loginUrl: string;
  codeVerifier: string;
}

beforeAll(async () => {
  storage = await createTestStorage('embedded');
});

afterAll(async () => {
  await server?.stop();
  await storage?.dispose();
});

describe('quickstart on the embedded database', () => {
  it('registers demo API, clients and user whose printed commands work', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli/main.ts'), 'quickstart', '--json'], {
        env: { PATH: process.env['PATH'] ?? '', ...storage.env, ISSUER: issuer },
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`quickstart exited ${code}`))));
    });
    const demo = JSON.parse(output) as QuickstartOutput;
    server = await startTestServer(storage, { PORT: String(port), ISSUER: issuer });

    const service = await oidc.discovery(new URL(issuer), demo.serviceClient.clientId, undefined, oidc.ClientSecretBasic(demo.serviceClient.clientSecret), {
      execute: [oidc.allowInsecureRequests],
    });
    const cc = await oidc.clientCredentialsGrant(service, { scope: 'demo:read', resource: demo.api });
    expect(cc.access_token.split('.')).toHaveLength(3);

    const browser = new HttpBrowser();
    const callback = await browser.authorize(new URL(demo.loginUrl), issuer, demo.user);
    expect(callback.href.startsWith(demo.spaClient.redirectUri)).toBe(true);
    const spa = await oidc.discovery(new URL(issuer), demo.spaClient.clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const tokens = await oidc.authorizationCodeGrant(spa, callback, {
      pkceCodeVerifier: demo.codeVerifier,
      expectedState: new URL(demo.loginUrl).searchParams.get('state') ?? '',
      expectedNonce: new URL(demo.loginUrl).searchParams.get('nonce') ?? '',
    });
    expect(tokens.id_token).toEqual(expect.any(String));
  });
});

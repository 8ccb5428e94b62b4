/**
 * SPA-1 `npm run example:spa`: its defaults match the client the README tells people to import,
 * and it refuses to start without its secrets, saying which one and how to make it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exampleConfig } from '../../examples/spa/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const [client] = JSON.parse(readFileSync(new URL('../../examples/spa/client.json', import.meta.url), 'utf8')) as [
  { client_id: string; scope: string; redirect_uris: string[]; post_logout_redirect_uris: string[] },
];
const secrets = { SPA_CLIENT_SECRET: 'the-secret-gatehouse-printed', SPA_COOKIE_SECRET: 'c'.repeat(32) };

describe('SPA-1 the example configuration', () => {
  it('defaults to the issuer on localhost:3000, the SPA on 5173 and the API on 5174', () => {
    const config = exampleConfig(secrets);
    expect(config).toMatchObject({
      issuer: 'http://localhost:3000',
      spaPort: 5173,
      apiPort: 5174,
      clientId: client.client_id,
      clientSecret: secrets.SPA_CLIENT_SECRET,
      cookieSecret: secrets.SPA_COOKIE_SECRET,
      scope: client.scope,
      resource: 'urn:example:spa-demo-api',
      requiredScope: 'demo:read',
      signingAlg: 'ES256',
    });
    // The imported client must accept the BFF at its default address.
    expect(client.redirect_uris).toEqual([`http://localhost:${config.spaPort}/bff/callback`]);
    expect(client.post_logout_redirect_uris).toEqual([`http://localhost:${config.spaPort}/`]);
  });

  it('takes ISSUER, SPA_PORT and SPA_API_PORT from the environment', () => {
    expect(exampleConfig({ ...secrets, ISSUER: 'https://id.example.com', SPA_PORT: '8080', SPA_API_PORT: '8081' })).toMatchObject({
      issuer: 'https://id.example.com',
      spaPort: 8080,
      apiPort: 8081,
    });
  });

  it('refuses a port that is not one', () => {
    for (const bad of ['0', '65536', 'http', '80.5']) {
      expect(() => exampleConfig({ ...secrets, SPA_PORT: bad })).toThrow('SPA_PORT must be a port number (1-65535)');
      expect(() => exampleConfig({ ...secrets, SPA_API_PORT: bad })).toThrow('SPA_API_PORT must be a port number (1-65535)');
    }
  });

  it('refuses to start without the client secret, naming the command that printed it', () => {
    for (const SPA_CLIENT_SECRET of [undefined, '']) {
      expect(() => exampleConfig({ SPA_COOKIE_SECRET: secrets.SPA_COOKIE_SECRET, SPA_CLIENT_SECRET })).toThrow(
        'SPA_CLIENT_SECRET is not set: use the secret that `npx gatehouse clients import examples/spa/client.json` printed',
      );
    }
  });

  it('refuses a missing or short cookie secret, and accepts 32 characters', () => {
    for (const SPA_COOKIE_SECRET of [undefined, '', 'c'.repeat(31)]) {
      expect(() => exampleConfig({ SPA_CLIENT_SECRET: secrets.SPA_CLIENT_SECRET, SPA_COOKIE_SECRET })).toThrow(
        'SPA_COOKIE_SECRET must be at least 32 characters, e.g. SPA_COOKIE_SECRET=$(openssl rand -base64 32)',
      );
    }
    expect(exampleConfig({ SPA_CLIENT_SECRET: secrets.SPA_CLIENT_SECRET, SPA_COOKIE_SECRET: 'c'.repeat(32) }).cookieSecret).toHaveLength(32);
  });

  it('`npm run example:spa` without its secrets exits with status 78 and says what is missing', async () => {
    // The command package.json runs, in an environment without the example's variables.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SPA_')));
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/spa/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(78);
    expect(output).toContain('SPA_CLIENT_SECRET is not set');
    expect(output).toContain('SPA_COOKIE_SECRET must be at least 32 characters');
    expect(output).not.toContain('SPA and BFF:');
  }, 30_000);
});

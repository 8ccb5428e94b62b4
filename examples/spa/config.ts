/**
 * The example's settings, from the environment. Secrets (the BFF's client secret, the cookie
 * key) come only from there, never from the repository; the client and API identifiers come from
 * the same files that register them in Gatehouse.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface ExampleConfig {
  readonly issuer: string;
  readonly spaPort: number;
  readonly apiPort: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly cookieSecret: string;
  readonly scope: string;
  readonly resource: string;
  readonly requiredScope: string;
  readonly signingAlg: string;
}

const port = (name: string, value: string | undefined, fallback: number): number => {
  const parsed = Number(value ?? fallback);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) throw new Error(`${name} must be a port number (1-65535)`);
  return parsed;
};

export function exampleConfig(env: NodeJS.ProcessEnv): ExampleConfig {
  const [client] = JSON.parse(readFileSync(path.join(HERE, 'client.json'), 'utf8')) as { client_id: string; scope: string }[];
  const [api] = JSON.parse(readFileSync(path.join(HERE, 'api.json'), 'utf8')) as { identifier: string; scopes: string[]; signing_alg?: string }[];
  if (!client || !api) throw new Error('examples/spa/client.json and api.json must each hold one entry');
  const problems: string[] = [];
  if (!env['SPA_CLIENT_SECRET']) problems.push('SPA_CLIENT_SECRET is not set: use the secret that `npx gatehouse clients import examples/spa/client.json` printed');
  if ((env['SPA_COOKIE_SECRET'] ?? '').length < 32) problems.push('SPA_COOKIE_SECRET must be at least 32 characters, e.g. SPA_COOKIE_SECRET=$(openssl rand -base64 32)');
  if (problems.length) throw new Error(problems.join('\n'));
  return {
    issuer: env['ISSUER'] ?? 'http://localhost:3000',
    spaPort: port('SPA_PORT', env['SPA_PORT'], 5173),
    apiPort: port('SPA_API_PORT', env['SPA_API_PORT'], 5174),
    clientId: client.client_id,
    clientSecret: env['SPA_CLIENT_SECRET'] ?? '',
    cookieSecret: env['SPA_COOKIE_SECRET'] ?? '',
    scope: client.scope,
    resource: api.identifier,
    requiredScope: api.scopes[0] ?? 'demo:read',
    signingAlg: api.signing_alg ?? 'ES256',
  };
}

/**
 * The baseline: bare oidc-provider with its in-memory adapter and no extra middleware, with the
 * same client, API and key type as the Gatehouse runs. Started as its own process by bench/run.ts.
 */
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';
import { BENCH_API, BENCH_CLIENT, BENCH_SCOPES, BENCH_SECRET, BENCH_SPA, BENCH_SPA_REDIRECT } from './fixtures.js';

const port = Number(process.argv[2] ?? 4000);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'baseline-es256' };
// ID tokens are RS256 in Gatehouse (FLOW-6) and by the engine's own default.
const { privateKey: rsaKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
const rsaJwk = { ...(await exportJWK(rsaKey)), alg: 'RS256', use: 'sig', kid: 'baseline-rs256' };

const configuration: Configuration = {
  jwks: { keys: [jwk as never, rsaJwk as never] },
  clientDefaults: { id_token_signed_response_alg: 'RS256' },
  clients: [
    {
      client_id: BENCH_CLIENT,
      client_secret: BENCH_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: BENCH_SCOPES,
    },
    {
      client_id: BENCH_SPA,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [BENCH_SPA_REDIRECT],
      scope: 'openid offline_access',
    },
  ],
  scopes: ['openid', 'offline_access', ...BENCH_SCOPES.split(' ')],
  features: {
    // The engine's own development login pages stand in for a login UI (no password hashing).
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      getResourceServerInfo: async () => ({ scope: BENCH_SCOPES, audience: BENCH_API, accessTokenTTL: 900, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
    },
  },
  ttl: { ClientCredentials: 900, AccessToken: 900 },
  rotateRefreshToken: true,
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => process.send?.('ready'));
// A normal exit on SIGTERM, so a CPU profile (BENCH_PROFILE=1) gets written.
process.once('SIGTERM', () => process.exit(0));

/**
 * `gatehouse quickstart`: a demo API, a service client, a SPA client and a user, plus ready
 * commands to try both flows. Refuses to touch a real DATABASE_URL unless told explicitly.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Services } from '../services.js';
import type { LiveProvider } from '../provider/live.js';
import { registerClients } from '../clients/register.js';
import { registerResourceServers } from '../apis/register.js';
import { UsageError, type Output } from './output.js';

export const DEMO = {
  api: 'https://demo-api.gatehouse.local',
  serviceClient: 'demo-service',
  spaClient: 'demo-spa',
  spaRedirect: 'http://127.0.0.1:8080/callback',
  username: 'demo',
} as const;

export async function quickstart(services: Services, live: LiveProvider, output: Output, allowRealDatabase: boolean): Promise<void> {
  if (services.db.kind !== 'embedded' && !allowRealDatabase) {
    throw new UsageError('quickstart creates demo clients and a demo user; on a real DATABASE_URL pass --i-know-this-is-a-real-database');
  }
  const issuer = services.config.issuer;
  await registerResourceServers(
    [{ identifier: DEMO.api, name: 'Demo API', scopes: ['demo:read', 'demo:write'], token_format: 'jwt' }],
    services.resourceServers,
  );
  // The provider must know the new API scopes before clients may register them.
  await live.refresh();
  const [service, spa] = await registerClients(
    [
      {
        client_id: DEMO.serviceClient,
        client_name: 'Demo service',
        grant_types: ['client_credentials'],
        scope: 'demo:read demo:write',
      },
      {
        client_id: DEMO.spaClient,
        client_name: 'Demo single-page app',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [DEMO.spaRedirect],
        post_logout_redirect_uris: ['http://127.0.0.1:8080/'],
        scope: 'openid profile email offline_access demo:read',
      },
    ],
    live.current,
    services.clients,
  );
  const password = randomBytes(12).toString('base64url');
  let userNote = `user:     ${DEMO.username} / ${password}`;
  const existing = await services.accounts.findByUsername(DEMO.username);
  if (existing) {
    await services.accounts.setPassword(DEMO.username, password);
    userNote += ' (password reset)';
  } else {
    await services.accounts.create({ username: DEMO.username, name: 'Demo User', email: 'demo@example.com', email_verified: true }, password);
  }
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const loginUrl = new URL('/auth', issuer);
  loginUrl.search = new URLSearchParams({
    client_id: DEMO.spaClient,
    response_type: 'code',
    scope: 'openid profile email',
    redirect_uri: DEMO.spaRedirect,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
  }).toString();
  const secret = service?.generatedSecret;
  const curl = secret
    ? `curl -s -u ${DEMO.serviceClient}:${secret} -d grant_type=client_credentials -d scope=demo:read -d resource=${DEMO.api} ${issuer}/token`
    : `(the ${DEMO.serviceClient} secret was set earlier and is not stored in clear; re-import it with a client_secret to get a new one)`;
  output.result(
    [
      'Gatehouse quickstart: demo API, clients and user are registered.',
      '',
      `API:      ${DEMO.api} (scopes demo:read demo:write, JWT access tokens)`,
      `service:  ${DEMO.serviceClient}${secret ? ` / secret ${secret} (shown once)` : ''}`,
      `SPA:      ${spa?.clientId} (public, PKCE, redirect ${DEMO.spaRedirect})`,
      userNote,
      '',
      'Start the server (npm start), then:',
      '',
      '1. Client credentials:',
      `   ${curl}`,
      '',
      '2. Authorization Code + PKCE: open this URL, sign in, allow; the code is in the address bar of the redirect:',
      `   ${loginUrl.toString()}`,
      '   then exchange it:',
      `   curl -s -d grant_type=authorization_code -d client_id=${DEMO.spaClient} -d redirect_uri=${DEMO.spaRedirect} -d code_verifier=${verifier} -d code=CODE ${issuer}/token`,
    ].join('\n'),
    {
      api: DEMO.api,
      serviceClient: { clientId: DEMO.serviceClient, clientSecret: secret },
      spaClient: { clientId: DEMO.spaClient, redirectUri: DEMO.spaRedirect },
      user: { username: DEMO.username, password },
      loginUrl: loginUrl.toString(),
      codeVerifier: verifier,
    },
  );
}

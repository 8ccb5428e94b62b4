/**
 * FLOW-4 reuse detection under a race: when parallel requests redeem one refresh token, the
 * losers take the engine's own reuse path, so its events (and Gatehouse's log line and metric
 * built on them) are the same as for a sequential reuse — on both databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApi, registerSpaClient, registerUser } from '../support/fixtures.js';
import { createTestStorage, startTestServer, type DatabaseChoice, type TestServer, type TestStorage } from '../support/server.js';
import { discoverClient, signInAndRedeem } from '../support/sign-in.js';

function refresh(server: TestServer, refreshToken: string) {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'spa' }),
  });
}

describe.each<DatabaseChoice>(['postgres', 'embedded'])('FLOW-4 refresh-token reuse across a race (%s)', (kind) => {
  let storage: TestStorage;
  let server: TestServer;
  let user: { username: string; password: string };

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    server = await startTestServer(storage);
    await registerApi(server);
    await registerSpaClient(server);
    user = await registerUser(server);
  });

  afterAll(async () => {
    await server?.stop();
    await storage?.dispose();
  });

  it('raises grant.revoked and refresh_token.destroyed from the losing requests, like a sequential reuse', async () => {
    const spa = await discoverClient(server, 'spa');
    const { tokens } = await signInAndRedeem(server, spa, user, { scope: 'openid offline_access' });
    const provider = server.gatehouse.live.current;
    const stored = await provider.RefreshToken.find(tokens.refresh_token ?? '');
    const grantId = stored?.grantId;
    expect(grantId).toEqual(expect.any(String));

    const revoked: string[] = [];
    const destroyed: string[] = [];
    const failures: string[] = [];
    const onRevoked = (_ctx: unknown, id: string) => revoked.push(id);
    const onDestroyed = (token: { jti: string }) => destroyed.push(token.jti);
    const onError = (_ctx: unknown, error: { error_detail?: string }) => failures.push(String(error.error_detail));
    provider.on('grant.revoked', onRevoked);
    provider.on('refresh_token.destroyed', onDestroyed);
    provider.on('grant.error', onError);
    try {
      const attempts = await Promise.all(Array.from({ length: 4 }, () => refresh(server, tokens.refresh_token ?? '')));
      const statuses = attempts.map((response) => response.status);
      expect(statuses.filter((status) => status === 200)).toHaveLength(1);
      expect(statuses.filter((status) => status === 400)).toHaveLength(3);
    } finally {
      provider.off('grant.revoked', onRevoked);
      provider.off('refresh_token.destroyed', onDestroyed);
      provider.off('grant.error', onError);
    }
    // Every loser that got the engine's "already used" answer raised both events, as the engine does.
    const reuses = failures.filter((description) => description === 'refresh token already used').length;
    expect(reuses).toBeGreaterThanOrEqual(1);
    expect(revoked.filter((id) => id === grantId)).toHaveLength(reuses);
    expect(destroyed.filter((jti) => jti === stored?.jti)).toHaveLength(reuses);
    const warning = server.logs.map((line) => JSON.parse(line) as { event?: string; route?: string; grantId?: string }).find((line) => line.event === 'grant_revoked');
    expect(warning).toMatchObject({ route: 'token', grantId });
    const metrics = await (await fetch(server.gatehouse.metricsUrl ?? '')).text();
    expect(metrics).toContain(`gatehouse_grants_revoked_total{route="token"} ${reuses}`);
  });
});

describe('FLOW-4 refresh-token reuse across two replicas (postgres)', () => {
  let storage: TestStorage;
  const replicas: TestServer[] = [];

  beforeAll(async () => {
    storage = await createTestStorage('postgres');
    replicas.push(await startTestServer(storage));
    await registerApi(replicas[0] as TestServer);
    await registerSpaClient(replicas[0] as TestServer);
    replicas.push(await startTestServer(storage));
  });

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await storage?.dispose();
  });

  it('lets one replica win; the losers on either replica raise the engine events for the grant', async () => {
    const [first, second] = replicas as [TestServer, TestServer];
    const user = await registerUser(first, 'racer');
    const { tokens } = await signInAndRedeem(first, await discoverClient(first, 'spa'), user, { scope: 'openid offline_access' });
    const grantId = (await first.gatehouse.live.current.RefreshToken.find(tokens.refresh_token ?? ''))?.grantId;
    const revoked: string[] = [];
    const reuses: string[] = [];
    const listeners = replicas.map((replica) => {
      const provider = replica.gatehouse.live.current;
      const onRevoked = (_ctx: unknown, id: string) => revoked.push(id);
      const onError = (_ctx: unknown, error: { error_detail?: string }) => reuses.push(String(error.error_detail));
      provider.on('grant.revoked', onRevoked);
      provider.on('grant.error', onError);
      return () => {
        provider.off('grant.revoked', onRevoked);
        provider.off('grant.error', onError);
      };
    });
    try {
      const attempts = await Promise.all([first, second, first, second].map((replica) => refresh(replica, tokens.refresh_token ?? '')));
      expect(attempts.map((response) => response.status).filter((status) => status === 200)).toHaveLength(1);
    } finally {
      for (const off of listeners) off();
    }
    const alreadyUsed = reuses.filter((detail) => detail === 'refresh token already used').length;
    expect(alreadyUsed).toBeGreaterThanOrEqual(1);
    expect(revoked.filter((id) => id === grantId)).toHaveLength(alreadyUsed);
  });
});

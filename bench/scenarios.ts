/** What each scenario sends; the same requests to every target. */
import { BENCH_API, BENCH_CLIENT, BENCH_MTLS_CLIENT, BENCH_SECRET } from './fixtures.js';
import { FORWARDED_CERT_HEADER } from './mtls.js';

export interface Scenario {
  /** Short name for BENCH_SCENARIOS. */
  readonly id: string;
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: (context: ScenarioContext) => string;
  readonly headers?: Record<string, string>;
  /** Headers that come from the target's context; a scenario whose context lacks them is skipped. */
  readonly contextHeaders?: (context: ScenarioContext) => Record<string, string> | undefined;
}

export interface ScenarioContext {
  /** An opaque access token issued by the target, for introspection. */
  readonly opaqueToken: string;
  /** The bench client certificate as a trusted proxy forwards it (Gatehouse targets only). */
  readonly forwardedCertificate?: string;
}

const basic = `Basic ${Buffer.from(`${BENCH_CLIENT}:${BENCH_SECRET}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'cc-jwt',
    name: 'client credentials (JWT, ES256)',
    method: 'POST',
    path: '/token',
    headers: form,
    body: () => new URLSearchParams({ grant_type: 'client_credentials', scope: 'bench:read', resource: BENCH_API }).toString(),
  },
  {
    id: 'cc-opaque',
    name: 'client credentials (opaque)',
    method: 'POST',
    path: '/token',
    headers: form,
    body: () => new URLSearchParams({ grant_type: 'client_credentials', scope: 'bench:read' }).toString(),
  },
  {
    id: 'introspection',
    name: 'introspection (opaque)',
    method: 'POST',
    path: '/token/introspection',
    headers: form,
    body: (context) => new URLSearchParams({ token: context.opaqueToken }).toString(),
  },
  {
    id: 'cc-mtls',
    name: 'client credentials (mTLS-bound JWT)',
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    contextHeaders: (context) => (context.forwardedCertificate ? { [FORWARDED_CERT_HEADER]: context.forwardedCertificate } : undefined),
    body: () => new URLSearchParams({ grant_type: 'client_credentials', client_id: BENCH_MTLS_CLIENT, scope: 'bench:read', resource: BENCH_API }).toString(),
  },
  { id: 'discovery', name: 'discovery', method: 'GET', path: '/.well-known/openid-configuration' },
  { id: 'jwks', name: 'JWKS', method: 'GET', path: '/jwks' },
];

export async function prepareContext(base: string, forwardedCertificate?: string): Promise<ScenarioContext> {
  const response = await fetch(`${base}/token`, {
    method: 'POST',
    headers: form,
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'bench:read' }),
  });
  if (!response.ok) throw new Error(`could not get a token from ${base}: ${response.status} ${await response.text()}`);
  const { access_token: opaqueToken } = (await response.json()) as { access_token: string };
  return { opaqueToken, ...(forwardedCertificate ? { forwardedCertificate } : {}) };
}

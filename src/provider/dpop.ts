/**
 * DPoP (RFC 9449, FLOW-8): access and refresh tokens bound to a key the client proves it holds.
 * Enforces, through the engine:
 * - JWT-1: a proof is accepted only when signed with one of DPOP_SIGNING_ALGS (asymmetric only:
 *   `none`, HMAC and key confusion cannot pass) by the key in its own `jwk` header, `typ`
 *   `dpop+jwt`, `htm`/`htu` of this request, `iat` within five minutes, and `ath` when it comes
 *   with an access token;
 * - server nonces (`use_dpop_nonce`) from a secret every worker and replica derives from the
 *   master secret, required in every proof unless DPOP_REQUIRE_NONCE=false;
 * - a proof is used once: its `jti` goes to the shared replay store (the adapter's
 *   ReplayDetection model in PostgreSQL, inserted atomically), so no replica accepts it twice;
 * - `dpop_bound_access_tokens: true` in a client's metadata makes a proof mandatory at the token
 *   endpoint; bound tokens carry `cnf.jkt` and are of `token_type` DPoP; a public client's
 *   refresh tokens are bound to the same key.
 */
import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import { JwtAlreadyUsed } from '../adapter/index.js';
import type { Config } from '../config/index.js';

/** FAPI 2.0's choice: no RSASSA-PKCS1-v1_5, nothing symmetric. `Ed25519` is EdDSA's new name (RFC 9864). */
export const DPOP_SIGNING_ALGS = ['ES256', 'EdDSA', 'PS256', 'Ed25519'] as const;

type Features = NonNullable<Configuration['features']>;

export function dpopFeature(config: Config, nonceSecret: Buffer): NonNullable<Features['dPoP']> {
  const { requireNonce } = config.dpop;
  return {
    enabled: true,
    nonceSecret,
    requireNonce: () => requireNonce,
    allowReplay: false,
  };
}

interface ReplayStore {
  unique(iss: string, jti: string, exp: number): Promise<boolean>;
}

/**
 * The engine's replay check looks a JWT id up, then stores it. Two replicas handed the same proof
 * at the same moment both find nothing; the adapter's insert lets one store it and refuses the
 * other. That refusal is reported as what it is — a replay — so the engine answers with its usual
 * error for the endpoint (`invalid_grant` at the token endpoint, `invalid_token` at userinfo).
 */
export function reportRacingReplaysAsReplays(provider: Provider): void {
  const store = provider.ReplayDetection as unknown as ReplayStore;
  const unique = store.unique.bind(store);
  store.unique = async (iss, jti, exp) => {
    try {
      return await unique(iss, jti, exp);
    } catch (error) {
      if (error instanceof JwtAlreadyUsed) return false;
      throw error;
    }
  };
}

/**
 * Where the engine keeps registration access tokens (RFC 7592): in `oidc_records` like its other
 * tokens, but under a keyed digest of the token and without the token in the payload, because a
 * registration access token lives as long as its client and a database dump must not hand out
 * the right to change or delete clients. The engine addresses these tokens only by value, so
 * the digest is invisible to it.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { isUnstorableText, type OidcRecords } from '../adapter/records.js';
import type { MasterSecret } from '../security/master-secret.js';

const MODEL = 'RegistrationAccessToken';

export function registrationAccessTokenAdapter(records: OidcRecords, secret: MasterSecret): Adapter {
  const digest = (token: string) => secret.mac('registration-access-token', token);
  return {
    async upsert(token: string, payload: AdapterPayload, expiresIn?: number) {
      const { jti: _plaintext, ...stored } = payload;
      await records.upsert(MODEL, digest(token), stored, expiresIn);
    },
    async find(token: string) {
      if (token.length > 200 || isUnstorableText(token)) return undefined;
      const stored = await records.find(MODEL, digest(token));
      return stored ? ({ ...stored, jti: token } as AdapterPayload) : undefined;
    },
    async destroy(token: string) {
      if (isUnstorableText(token)) return;
      await records.destroy(MODEL, digest(token));
    },
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: async () => undefined,
    revokeByGrantId: async () => undefined,
  };
}

/**
 * The admin API is itself a resource server of Gatehouse: tokens for it are ordinary JWT access
 * tokens (client credentials, `resource=urn:gatehouse:admin`) with `admin:read` / `admin:write`.
 */
import type { ResourceServer } from '../apis/schema.js';

export const ADMIN_API = 'urn:gatehouse:admin';
export const ADMIN_SCOPES = ['admin:read', 'admin:write'] as const;

export const adminResourceServer: ResourceServer = {
  identifier: ADMIN_API,
  name: 'Gatehouse admin API',
  scopes: [...ADMIN_SCOPES],
  token_format: 'jwt',
  signing_alg: 'ES256',
  access_token_ttl: 900,
};

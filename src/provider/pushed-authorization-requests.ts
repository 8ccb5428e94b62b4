/**
 * Pushed authorization requests (RFC 9126). Enforces, through the engine:
 * - the PAR endpoint (`/request`) authenticates the client like the token endpoint and checks the
 *   request as the authorization endpoint would, before any browser is involved;
 * - a `request_uri` lives 60 seconds (the engine's fixed maximum) and is used once: the first
 *   authorization response consumes it (atomically, see src/adapter), later uses are
 *   `invalid_request_uri`;
 * - REQUIRE_PAR=true makes pushing mandatory for every client (and discovery says so);
 *   `require_pushed_authorization_requests: true` does it for one client;
 * - a pushed request may name only registered redirect URIs.
 */
import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/index.js';

type Features = NonNullable<Configuration['features']>;

export function pushedAuthorizationRequestsFeature(config: Config): NonNullable<Features['pushedAuthorizationRequests']> {
  return {
    enabled: true,
    requirePushedAuthorizationRequests: config.par.required,
    allowUnregisteredRedirectUris: false,
  };
}

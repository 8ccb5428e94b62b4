/**
 * The engine's mutual-TLS feature (FLOW-8, RFC 8705), on only where a client certificate can
 * arrive (MTLS_PORT, or CLIENT_CERT_HEADER from trusted proxies). Enforces: `tls_client_auth`
 * only with trust anchors (MTLS_CA_FILE); `self_signed_tls_client_auth` against the client's
 * registered keys; an expired or not-yet-valid certificate is invalid_client, not a silent
 * pass (the engine's self-signed check compares thumbprints only); certificate-bound access
 * tokens (`cnf.x5t#S256`); `mtls_endpoint_aliases` in discovery when the mTLS endpoints live
 * at another origin.
 */
import type { X509Certificate } from 'node:crypto';
import type { Middleware } from 'koa';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/index.js';
import { certificateSubjectMatches, type ClientCertificates, type SubjectProperty } from '../tls/client-certificates.js';

type MtlsFeature = NonNullable<NonNullable<Configuration['features']>['mTLS']>;

// Client authentication happens here; a certificate that is not current must fail it loudly.
const CLIENT_AUTH_ROUTES = new Set(['token', 'introspection', 'revocation', 'pushed_authorization_request']);

export function mtlsFeature(config: Config, certificates: ClientCertificates | undefined): MtlsFeature {
  if (!config.mtls) return { enabled: false };
  const tlsClientAuth = Boolean(config.mtls.caFile);
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    selfSignedTlsClientAuth: true,
    tlsClientAuth,
    // The engine accepts a PEM string or an X509Certificate (it hashes `raw` for x5t#S256).
    getCertificate(ctx: KoaContextWithOIDC) {
      const presented = certificates?.of(ctx.req);
      if (!presented) return undefined;
      if (!presented.current) {
        if (CLIENT_AUTH_ROUTES.has(ctx.oidc?.route ?? '')) throw new errors.InvalidClientAuth('client certificate is expired or not yet valid');
        return undefined;
      }
      return presented.certificate as unknown as string;
    },
    certificateAuthorized(ctx: KoaContextWithOIDC) {
      return certificates?.of(ctx.req)?.verified === true;
    },
    certificateSubjectMatches(ctx: KoaContextWithOIDC, property: string, expected: string) {
      const presented = certificates?.of(ctx.req);
      return Boolean(presented) && certificateSubjectMatches(presented!.certificate as X509Certificate, property as SubjectProperty, expected);
    },
  } as MtlsFeature;
}

/** The client authentication methods mutual TLS adds (tls_client_auth only with trust anchors). */
export function mtlsClientAuthMethods(config: Config): ('tls_client_auth' | 'self_signed_tls_client_auth')[] {
  if (!config.mtls) return [];
  return config.mtls.caFile ? ['tls_client_auth', 'self_signed_tls_client_auth'] : ['self_signed_tls_client_auth'];
}

const ALIASED = ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'userinfo_endpoint', 'pushed_authorization_request_endpoint'];

/** RFC 8705 section 5: discovery names the same endpoints at the mTLS origin. */
export function mtlsEndpointAliases(config: Config): Middleware {
  const base = config.mtls?.url;
  return async (ctx, next) => {
    await next();
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    if (!base || oidcCtx.oidc?.route !== 'discovery' || ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
    const document = ctx.body as Record<string, unknown>;
    const aliases: Record<string, string> = {};
    for (const name of ALIASED) {
      const endpoint = document[name];
      if (typeof endpoint === 'string' && URL.canParse(endpoint)) aliases[name] = `${new URL(base).origin}${new URL(endpoint).pathname}`;
    }
    document['mtls_endpoint_aliases'] = aliases;
  };
}

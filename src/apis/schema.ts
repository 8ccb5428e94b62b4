/**
 * Resource servers (APIs) are data: an identifier (the RFC 8707 resource indicator), the scopes
 * it accepts, its token format and lifetime. Enforces: allowlisted fields, an absolute URI
 * identifier, scope tokens that do not shadow OpenID Connect scopes, bounded TTLs.
 */
import { z } from 'zod';

export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'address', 'phone'] as const;
const reserved = new Set<string>(OIDC_SCOPES);

export const resourceServerSchema = z.strictObject({
  identifier: z
    .string()
    .max(500)
    .refine((value) => URL.canParse(value) && !value.includes('#'), 'identifier must be an absolute URI without a fragment')
    .refine((value) => !value.startsWith('urn:gatehouse:'), 'identifier must not start with "urn:gatehouse:" (reserved for built-in APIs)'),
  name: z.string().min(1).max(200),
  scopes: z
    .array(
      z
        .string()
        .regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/, 'scopes must be scope tokens without spaces or quotes')
        .refine((scope) => !reserved.has(scope), 'scopes must not reuse an OpenID Connect scope name')
        .refine((scope) => !scope.startsWith('admin:'), 'scopes must not start with "admin:" (reserved for the admin API)'),
    )
    .min(1, 'scopes must list at least one scope')
    .max(100),
  token_format: z.enum(['jwt', 'opaque']).default('jwt'),
  // As short as 20 s: for high-risk APIs, and to see a browser app's silent refresh at work.
  access_token_ttl: z.number().int().min(20).max(24 * 3600).optional(),
  signing_alg: z.enum(['ES256', 'RS256']).default('ES256'),
});

export type ResourceServerInput = z.input<typeof resourceServerSchema>;
export type ResourceServer = z.output<typeof resourceServerSchema>;

/**
 * Authentication context classes (`acr`, OIDC Core 2) and methods (`amr`, RFC 8176) that
 * Gatehouse's sign-in can produce (FLOW-10). Enforces: an ID token's `acr` names how the user
 * actually signed in; a request that makes an `acr` essential is met only by a method listed
 * here, otherwise it fails (OIDC Core 5.5.1.1) instead of silently downgrading.
 *
 * A password alone, or a password with a one-time code (authenticator app or recovery code,
 * `urn:gatehouse:acr:mfa`, MFA-2), or a passkey with user verification (MFA-1): the OpenID EAP
 * value `phr`. `phrh` (hardware-protected) needs proof that the key is held in hardware, which
 * only a verified attestation gives; Gatehouse requests none, so it neither claims nor advertises
 * `phrh` (a backup-eligible flag of 0 is the authenticator's own word, not proof).
 */

/** Password sign-in: one knowledge factor (RFC 8176 `pwd`). */
export const ACR_PASSWORD = 'urn:gatehouse:acr:password';

/**
 * Multi-factor sign-in (MFA-2, MFA-3): a password and a one-time code (RFC 8176 `pwd` + `otp`),
 * or a password and, at the second step, a passkey (`pwd` + `swk` + `user`).
 */
export const ACR_MFA = 'urn:gatehouse:acr:mfa';

/** Passkey sign-in (MFA-1), OpenID EAP ACR values: phishing-resistant; and hardware-protected (not produced: see above). */
export const ACR_PHISHING_RESISTANT = 'phr';

interface AuthenticationMethod {
  readonly acr: string;
  readonly amr: readonly string[];
}

/** Every method the sign-in offers, weakest first. */
export const AUTHENTICATION_METHODS: readonly AuthenticationMethod[] = [
  { acr: ACR_PASSWORD, amr: ['pwd'] },
  { acr: ACR_MFA, amr: ['pwd', 'otp'] },
  { acr: ACR_PHISHING_RESISTANT, amr: ['swk', 'user'] },
  // Add { acr: 'phrh', amr: ['hwk', 'user'] } with attestation verification.
];

/** Advertised as `acr_values_supported`. */
export const SUPPORTED_ACR_VALUES = AUTHENTICATION_METHODS.map((method) => method.acr);

/** What the ID token says after a password sign-in. */
export const PASSWORD_SIGN_IN = { acr: ACR_PASSWORD, amr: ['pwd'] } as const;

/**
 * What the ID token says after a passkey sign-in (RFC 8176, OpenID EAP): `phr`, ["swk","user"]
 * for every passkey. A device-bound credential (BE=0) says so itself, but without a verified
 * attestation nothing proves the key is in hardware, so `phrh`/`hwk` is not claimed.
 */
export const PASSKEY_SIGN_IN = { acr: ACR_PHISHING_RESISTANT, amr: ['swk', 'user'] } as const;

/** An `acr` request from the claims parameter or acr_values, as the engine reports it. */
export interface AcrRequest {
  readonly essential?: boolean;
  readonly value?: unknown;
  readonly values?: unknown;
}

/** The acr values requested, whether as `value` or `values`. */
export function requestedAcrValues(request: AcrRequest | undefined): string[] {
  if (!request) return [];
  if (typeof request.value === 'string') return [request.value];
  return Array.isArray(request.values) ? request.values.filter((value): value is string => typeof value === 'string') : [];
}

/** Whether some sign-in method Gatehouse offers yields one of `values`. */
export function canSatisfy(values: readonly string[]): boolean {
  return values.some((value) => SUPPORTED_ACR_VALUES.includes(value));
}

/** The classes that mean more than one factor; asking for any of them asks for a step-up (MFA-3). */
export const MULTI_FACTOR_ACR_VALUES: readonly string[] = [ACR_MFA, ACR_PHISHING_RESISTANT];

export function isMultiFactor(acr: string | undefined): boolean {
  return acr !== undefined && MULTI_FACTOR_ACR_VALUES.includes(acr);
}

/** Whether a request's acr_values (space-separated, in order of preference) ask for multi-factor. */
export function asksForMultiFactor(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').some((value) => MULTI_FACTOR_ACR_VALUES.includes(value));
}

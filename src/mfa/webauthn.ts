/**
 * Gatehouse as a WebAuthn relying party (MFA-1), through @simplewebauthn/server. Enforces: the
 * RP ID is the issuer's host and the only accepted origin is the issuer's; credentials are
 * discoverable (resident) and user verification is required, so a passkey alone is two factors
 * (possession + the device's PIN or biometric); attestation is not requested (passkeys rarely
 * provide one and the server would not act on it); the library checks challenge, origin, RP ID,
 * signature and counter.
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { DeviceType, NewPasskey, Passkey } from './passkeys.js';


const TIMEOUT_MS = 120_000;
// EdDSA, ES256, RS256 (COSE ids): what authenticators use. Not ML-DSA, which Node's Web Crypto
// still marks experimental.
const ALGORITHMS = [-8, -7, -257];

export class RelyingParty {
  readonly rpId: string;
  readonly origin: string;

  constructor(issuer: string) {
    const url = new URL(issuer);
    this.rpId = url.hostname;
    this.origin = url.origin;
  }

  registrationOptions(account: { id: string; username: string; name?: string | undefined }, existing: readonly Passkey[]): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return generateRegistrationOptions({
      rpName: 'Gatehouse',
      rpID: this.rpId,
      userName: account.username,
      userDisplayName: account.name ?? account.username,
      // The user handle names the account, never a secret: its id.
      userID: new Uint8Array(Buffer.from(account.id, 'utf8')),
      timeout: TIMEOUT_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((passkey) => ({ id: passkey.id, transports: [...passkey.transports] })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
    });
  }

  /** The credential to store, or undefined if the response does not verify. */
  async verifyRegistration(accountId: string, name: string, response: RegistrationResponseJSON, challenge: string): Promise<NewPasskey | undefined> {
    try {
      const result = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
      if (!result.verified) return undefined;
      const info = result.registrationInfo;
      return {
        id: info.credential.id,
        accountId,
        name,
        publicKey: info.credential.publicKey,
        counter: info.credential.counter,
        transports: info.credential.transports ?? response.response.transports ?? [],
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
      };
    } catch {
      return undefined;
    }
  }

  /**
   * Without `allow` (sign-in, the user unknown) no allowCredentials: the authenticator offers the
   * user's discoverable credentials. With it (the user known), only those credentials.
   */
  authenticationOptions(allow?: readonly Passkey[]): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return generateAuthenticationOptions({
      rpID: this.rpId,
      timeout: TIMEOUT_MS,
      userVerification: 'required',
      ...(allow ? { allowCredentials: allow.map((passkey) => ({ id: passkey.id, transports: [...passkey.transports] })) } : {}),
    });
  }

  /** The counter and backup state after a verified assertion by `passkey`, or undefined. */
  async verifyAuthentication(passkey: Passkey, response: AuthenticationResponseJSON, challenge: string): Promise<{ newCounter: number; backedUp: boolean; deviceType: DeviceType } | undefined> {
    try {
      const result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId,
        credential: { id: passkey.id, publicKey: passkey.publicKey, counter: passkey.counter, transports: [...passkey.transports] },
        requireUserVerification: true,
      });
      if (!result.verified) return undefined;
      const info = result.authenticationInfo;
      return { newCounter: info.newCounter, backedUp: info.credentialBackedUp, deviceType: info.credentialDeviceType };
    } catch {
      return undefined;
    }
  }
}


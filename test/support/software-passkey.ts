/**
 * A passkey held by the test itself (an ES256 key pair in Node), for tests that need valid
 * WebAuthn assertions without a browser: it is stored for an account as a verified registration
 * would store it, and signs assertions for whatever challenge a test was given, exactly as an
 * authenticator does (authenticator data ‖ SHA-256 of the client data). Its counter stays 0, as
 * synced passkeys' do, so the counter check never refuses a replayed assertion by itself: only
 * the server's single-use challenge can.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { PasskeyStore } from '../../src/mfa/passkeys.js';

export interface SoftwarePasskey {
  readonly id: string;
  /** The form a login page posts to /interaction/:uid/passkey, answering `challenge`. */
  assertionForm(challenge: string): { response: string };
}

export async function addSoftwarePasskey(passkeys: PasskeyStore, accountId: string, issuer: string): Promise<SoftwarePasskey> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const id = randomBytes(16).toString('base64url');
  const added = await passkeys.add({
    id,
    accountId,
    name: 'Software key',
    publicKey: coseKey(publicKey),
    counter: 0,
    transports: ['internal'],
    deviceType: 'singleDevice',
    backedUp: false,
  });
  if (!added) throw new Error('the software passkey was not stored');
  const { hostname: rpId, origin } = new URL(issuer);
  return {
    id,
    assertionForm(challenge) {
      const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin, crossOrigin: false }));
      // RP ID hash, flags UP (0x01) | UV (0x04), signature counter 0.
      const authenticatorData = Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([0x05]), Buffer.alloc(4)]);
      const signature = sign('sha256', Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJSON).digest()]), privateKey);
      const response = {
        id,
        rawId: id,
        type: 'public-key',
        response: {
          clientDataJSON: clientDataJSON.toString('base64url'),
          authenticatorData: authenticatorData.toString('base64url'),
          signature: signature.toString('base64url'),
          userHandle: Buffer.from(accountId, 'utf8').toString('base64url'),
        },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
      return { response: JSON.stringify(response) };
    },
  };
}

/** The COSE_Key (RFC 9053, EC2 / ES256 / P-256) an authenticator reports for `publicKey`. */
function coseKey(publicKey: KeyObject): Uint8Array<ArrayBuffer> {
  const jwk = publicKey.export({ format: 'jwk' });
  const key = new Map<number, number | Uint8Array>([
    [1, 2],
    [3, -7],
    [-1, 1],
    [-2, new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'))],
    [-3, new Uint8Array(Buffer.from(jwk.y ?? '', 'base64url'))],
  ]);
  return new Uint8Array(isoCBOR.encode(key));
}

/**
 * MFA-1: the WebAuthn relying party is the issuer — its host is the RP ID passkeys are bound to,
 * its origin the only one an assertion may come from — whatever the deployment's issuer is.
 */
import { describe, expect, it } from 'vitest';
import { RelyingParty } from '../../src/mfa/webauthn.js';

describe('WebAuthn relying party', () => {
  it('takes its ID (the host) and origin (scheme, host and port, no path) from the issuer', async () => {
    const party = new RelyingParty('https://login.example.com:8443/tenant-a');
    expect(party.rpId).toBe('login.example.com');
    expect(party.origin).toBe('https://login.example.com:8443');
    const options = await party.registrationOptions({ id: 'account-1', username: 'ada' }, []);
    expect(options.rp.id).toBe('login.example.com');
    const assertion = await party.authenticationOptions([]);
    expect(assertion.rpId).toBe('login.example.com');
  });
});

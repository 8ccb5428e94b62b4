/** FLOW-10: the formats of the OpenID Connect standard claims (OIDC Core 5.1), checked without a database. */
import { describe, expect, it } from 'vitest';
import { claimChangesSchema, newClaimsSchema } from '../../src/accounts/claims.js';

const accepts = (claims: Record<string, unknown>) => newClaimsSchema.safeParse(claims).success;

describe('FLOW-10 standard claim formats', () => {
  it('accepts full, year-withheld and year-only birthdates that exist, and refuses others', () => {
    for (const birthdate of ['2000-02-29', '0000-02-29', '1985', '1970-01-01']) expect(accepts({ birthdate }), birthdate).toBe(true);
    for (const birthdate of ['1999-02-29', '0000', '1990-13-01', '90-01-01', '2999-01-01', '1990/01/01']) expect(accepts({ birthdate }), birthdate).toBe(false);
  });

  it('accepts IANA zones, BCP 47 locales and E.164 numbers only', () => {
    expect(accepts({ zoneinfo: 'America/Argentina/Buenos_Aires', locale: 'zh-Hant-TW', phone_number: '+14155552671;ext=42' })).toBe(true);
    for (const zoneinfo of ['Mars/Olympus', '../etc/passwd', '']) expect(accepts({ zoneinfo }), zoneinfo).toBe(false);
    for (const locale of ['en_US', 'english please', 'x'.repeat(40)]) expect(accepts({ locale }), locale).toBe(false);
    for (const phone_number of ['4155552671', '+0123456789', '+1 415 555 2671', '+1234']) expect(accepts({ phone_number }), phone_number).toBe(false);
  });

  it('takes http(s) URLs for profile, picture and website, a structured address, and no unknown names', () => {
    expect(accepts({ picture: 'https://cdn.example/p.png', website: 'http://example.org', address: { country: 'NZ' } })).toBe(true);
    expect(accepts({ picture: 'data:image/png;base64,AAAA' })).toBe(false);
    expect(accepts({ address: {} })).toBe(false);
    expect(accepts({ address: { planet: 'Earth' } })).toBe(false);
    expect(accepts({ sub: 'x' })).toBe(false);
    expect(accepts({ preferred_username: 'x' })).toBe(false);
  });

  it('lets a change remove a claim with null but not be empty', () => {
    expect(claimChangesSchema.safeParse({ address: null, nickname: 'N' }).success).toBe(true);
    expect(claimChangesSchema.safeParse({}).success).toBe(false);
  });
});

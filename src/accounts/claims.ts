/**
 * The OpenID Connect standard claims of an account (OIDC Core 5.1, FLOW-10). Enforces: only the
 * standard names (an unknown one is rejected by name), each value in the format the
 * specification gives (E.164 phone numbers, BCP 47 locales, IANA time zones, ISO 8601 dates,
 * http(s) URLs), bounded lengths. `sub` and `preferred_username` are the account's id and
 * username and cannot be set; `updated_at` is kept current by every change unless given.
 */
import { z } from 'zod';
import { ValidationError } from '../validation.js';

/** Which claims each scope releases (OIDC Core 5.4). */
export const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
    'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
} as const;

const text = (name: string, max: number) =>
  z.string().trim().min(1, `${name} must not be empty`).max(max, `${name} must be at most ${max} characters`);

const webUrl = (name: string) =>
  z
    .string()
    .max(2000, `${name} must be at most 2000 characters`)
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), `${name} must be an absolute http(s) URL`);

function isCalendarDate(year: number, month: number, day: number): boolean {
  // Year 0000 means "year withheld" (OIDC Core 5.1); 2000 is a leap year, so 02-29 stays valid.
  const date = new Date(Date.UTC(year === 0 ? 2000 : year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const birthdate = z
  .string()
  .regex(/^\d{4}(-\d{2}-\d{2})?$/, 'birthdate must be YYYY-MM-DD, 0000-MM-DD (year withheld) or YYYY')
  .refine((value) => {
    const [year, month, day] = value.split('-').map(Number) as [number, number?, number?];
    if (month === undefined || day === undefined) return year > 0;
    return isCalendarDate(year, month, day);
  }, 'birthdate must be a real calendar date')
  .refine((value) => value.startsWith('0000') || value <= new Date().toISOString().slice(0, value.length), 'birthdate must not be in the future');

const zoneinfo = z
  .string()
  .max(64, 'zoneinfo must be at most 64 characters')
  .refine((value) => {
    if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(value)) return false;
    try {
      new Intl.DateTimeFormat('en', { timeZone: value });
      return true;
    } catch {
      return false;
    }
  }, 'zoneinfo must be an IANA time zone name such as Europe/Paris');

const locale = z
  .string()
  .max(35, 'locale must be at most 35 characters')
  .refine((value) => {
    if (!/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(value)) return false;
    try {
      return Intl.getCanonicalLocales(value).length === 1;
    } catch {
      return false;
    }
  }, 'locale must be a BCP 47 language tag such as en-US');

const phoneNumber = z
  .string()
  .regex(/^\+[1-9]\d{6,14}(;ext=\d{1,10})?$/, 'phone_number must be in E.164 format, e.g. +14155552671 (optionally ;ext=123)');

const addressSchema = z
  .strictObject({
    formatted: text('address.formatted', 500).optional(),
    street_address: text('address.street_address', 300).optional(),
    locality: text('address.locality', 200).optional(),
    region: text('address.region', 200).optional(),
    postal_code: text('address.postal_code', 20).optional(),
    country: text('address.country', 100).optional(),
  })
  .refine((address) => Object.keys(address).length > 0, 'address must have at least one member');

/** The claims stored in the account's `claims` column (name, email and email_verified have their own). */
export const storedClaimsShape = {
  given_name: text('given_name', 200),
  family_name: text('family_name', 200),
  middle_name: text('middle_name', 200),
  nickname: text('nickname', 200),
  profile: webUrl('profile'),
  picture: webUrl('picture'),
  website: webUrl('website'),
  gender: text('gender', 50),
  birthdate,
  zoneinfo,
  locale,
  phone_number: phoneNumber,
  phone_number_verified: z.boolean(),
  address: addressSchema,
  updated_at: z
    .number()
    .int('updated_at must be whole seconds since 1970')
    .min(0)
    .refine((value) => value <= Math.floor(Date.now() / 1000) + 300, 'updated_at must not be in the future'),
};

export const columnClaimsShape = {
  name: text('name', 200),
  email: z.email('email must be an e-mail address').max(320),
  email_verified: z.boolean(),
};

const allClaimsShape = { ...columnClaimsShape, ...storedClaimsShape };

function removable<T extends Record<string, z.ZodType>>(shape: T) {
  return Object.fromEntries(Object.entries(shape).map(([name, schema]) => [name, schema.nullable().optional()])) as {
    [K in keyof T]: z.ZodOptional<z.ZodNullable<T[K]>>;
  };
}

/** Every settable claim, optional: for a new account. */
export const newClaimsSchema = z.strictObject(allClaimsShape).partial();

/** A change to an account's claims: a value sets a claim, `null` removes it, an absent name keeps it. */
export const claimChangesSchema = z
  .strictObject(removable(allClaimsShape))
  .refine((changes) => Object.keys(changes).length > 0, 'nothing to change: give at least one claim');

export type StoredClaims = Partial<{ [K in keyof typeof storedClaimsShape]: z.output<(typeof storedClaimsShape)[K]> }>;
export type NewClaims = z.output<typeof newClaimsSchema>;
export type ClaimChanges = z.output<typeof claimChangesSchema>;

export const STORED_CLAIM_NAMES = Object.keys(storedClaimsShape) as (keyof typeof storedClaimsShape)[];

/** Claims from a JSON file (CLI `--claims FILE`) and single flags (`--email`, `--name`), flags winning. */
export function claimsFromSources(file: unknown, flags: { readonly email?: string | undefined; readonly name?: string | undefined }): Record<string, unknown> {
  if (file !== undefined && (typeof file !== 'object' || file === null || Array.isArray(file))) {
    throw new ValidationError(['the claims file must hold one JSON object of claim names and values']);
  }
  return { ...(file as Record<string, unknown> | undefined), ...(flags.email ? { email: flags.email } : {}), ...(flags.name ? { name: flags.name } : {}) };
}

/** Account input rules shared by the CLI, the admin API and the account pages. */
import { z } from 'zod';
import { newClaimsSchema } from './claims.js';

export const usernameSchema = z
  .string()
  .trim()
  .min(3, 'username must be at least 3 characters')
  .max(64, 'username must be at most 64 characters')
  .regex(/^[A-Za-z0-9._@+-]+$/, 'username may contain only letters, digits and . _ @ + -');

export const MIN_PASSWORD_LENGTH = 12;

// The most common passwords of at least 12 characters in public breach corpora: refused outright.
const COMMON_PASSWORDS = new Set([
  '123456789012', '1234567890123', 'qwertyuiopas', 'qwerty123456', 'password1234', 'password12345', 'passwordpassword',
  'iloveyou1234', 'abcdefghijkl', 'abc123456789', '1q2w3e4r5t6y', 'qwertyuiop123', 'letmein12345', 'welcome12345',
  'administrator', 'changeme1234', '111111111111', '000000000000', 'aaaaaaaaaaaa', 'football1234', 'baseball1234',
  'superman1234', 'trustno11234', 'monkey123456', 'dragon123456', 'princess1234', 'sunshine1234', 'starwars1234',
]);

export function passwordProblems(password: string, username: string): string[] {
  const problems: string[] = [];
  if (password.length < MIN_PASSWORD_LENGTH) problems.push(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > 1024) problems.push('password must be at most 1024 characters');
  if (username && password.toLowerCase().includes(username.toLowerCase())) problems.push('password must not contain the username');
  if (/^(.)\1+$/.test(password)) problems.push('password must not be one repeated character');
  if (COMMON_PASSWORDS.has(password.toLowerCase())) problems.push('password is one of the most commonly used passwords');
  return problems;
}

// A new account: its username and any OpenID Connect standard claims (src/accounts/claims.ts).
export const newAccountSchema = newClaimsSchema.extend({ username: usernameSchema }).strict();

export type NewAccount = z.output<typeof newAccountSchema>;

/** Account input rules shared by the CLI, the admin API and the account pages. */
import { z } from 'zod';

export const usernameSchema = z
  .string()
  .trim()
  .min(3, 'username must be at least 3 characters')
  .max(64, 'username must be at most 64 characters')
  .regex(/^[A-Za-z0-9._@+-]+$/, 'username may contain only letters, digits and . _ @ + -');

export const MIN_PASSWORD_LENGTH = 12;

export function passwordProblems(password: string, username: string): string[] {
  const problems: string[] = [];
  if (password.length < MIN_PASSWORD_LENGTH) problems.push(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > 1024) problems.push('password must be at most 1024 characters');
  if (username && password.toLowerCase().includes(username.toLowerCase())) problems.push('password must not contain the username');
  if (/^(.)\1+$/.test(password)) problems.push('password must not be one repeated character');
  return problems;
}

export const newAccountSchema = z.strictObject({
  username: usernameSchema,
  email: z.email('email must be an e-mail address').max(320).optional(),
  email_verified: z.boolean().optional(),
  name: z.string().trim().min(1).max(200).optional(),
});

export type NewAccount = z.output<typeof newAccountSchema>;

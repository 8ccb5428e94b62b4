/** Admin API request bodies: the same account rules as the CLI, strict field lists. */
import { z } from 'zod';
import { newAccountSchema } from '../accounts/schema.js';

export const newUserBody = newAccountSchema.extend({ password: z.string().min(1).max(1024) }).strict();
// keep_sessions: true keeps the user's sessions and refresh tokens (by default a reset ends them).
export const passwordBody = z.strictObject({ password: z.string().min(1).max(1024), keep_sessions: z.boolean().optional() });
export const disabledBody = z.strictObject({ disabled: z.boolean() });
export const mfaRequiredBody = z.strictObject({ required: z.boolean() });
export { claimChangesSchema as userClaimsBody } from '../accounts/claims.js';

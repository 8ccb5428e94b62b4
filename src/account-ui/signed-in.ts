/** The account area's signed-in user and its form fields, shared by every account page's routes. */
import type { Context } from 'koa';

/** What the account area's session check (routes.ts) leaves in `ctx.state.user`. */
export interface SignedIn {
  readonly accountId: string;
  readonly uid: string;
  readonly csrf: string;
  /** When this session last signed in (seconds): sensitive changes need a recent one. */
  readonly loginTs?: number | undefined;
}

export const signedInUser = (ctx: Context) => ctx.state['user'] as SignedIn;

/** A text field of the parsed form; '' when it is absent or not text. */
export const formField = (ctx: Context, name: string): string => {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
};

/**
 * When a sign-in must be multi-factor (MFA-3). Enforces:
 * - a relying party asks for it with `acr_values` naming a multi-factor class (or an essential
 *   `acr` claim, which the engine's own checks handle): a live session signed in with less is
 *   stepped up — the login prompt opens again and asks for the second factor;
 * - a client registered with `require_mfa: true`, or named by the server-wide REQUIRE_MFA_FOR,
 *   gets multi-factor sign-ins only: a user without a second factor enrols one at that sign-in;
 * - an account an operator marked `mfa_required` gets multi-factor sign-ins everywhere, live
 *   sessions included: their next authorization request steps them up.
 * `max_age` and `prompt=login` are the engine's own checks: they ask for the whole sign-in again.
 */
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { asksForMultiFactor, isMultiFactor, MULTI_FACTOR_ACR_VALUES, requestedAcrValues, type AcrRequest } from '../accounts/authentication-context.js';

/** REQUIRE_MFA_FOR: every client, or these client ids. */
export type MultiFactorRequirement = 'all' | readonly string[];

export const STEP_UP_REASON = 'multi_factor_required';

interface ClientLike {
  readonly clientId: string;
  readonly [key: string]: unknown;
}

export function clientRequiresMultiFactor(requirement: MultiFactorRequirement, client: ClientLike | undefined): boolean {
  if (!client) return false;
  if (client['require_mfa'] === true) return true;
  return requirement === 'all' || requirement.includes(client.clientId);
}

/** Whether the interaction's prompt makes a multi-factor `acr` essential (claims parameter). */
export function essentialMultiFactor(prompt: { reasons: readonly string[]; details: unknown }): boolean {
  if (!prompt.reasons.includes('essential_acr') && !prompt.reasons.includes('essential_acrs')) return false;
  const request = (prompt.details as { acr?: AcrRequest } | undefined)?.acr;
  return Boolean(request?.essential) && requestedAcrValues(request).some((value) => MULTI_FACTOR_ACR_VALUES.includes(value));
}

/** Reasons for a login prompt that a second factor alone answers, inside a live session. */
export const STEP_UP_REASONS: readonly string[] = [STEP_UP_REASON, 'essential_acr', 'essential_acrs'];

/** The engine's interaction policy with the step-up check added to its login prompt. */
export function signInPolicy(
  requirement: MultiFactorRequirement,
  accountRequiresMultiFactor: (accountId: string) => Promise<boolean> = async () => false,
): interactionPolicy.DefaultPolicy {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  if (!login) throw new Error('oidc-provider has no login prompt');
  login.checks.add(
    new interactionPolicy.Check(STEP_UP_REASON, 'multi-factor authentication is required', 'login_required', async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      // No session: the engine's no_session check asks; a login just made here: the interaction decided.
      if (!oidc.session?.accountId || oidc.result?.['login']) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (isMultiFactor(oidc.session.acr)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const wanted =
        asksForMultiFactor(oidc.params?.['acr_values']) ||
        clientRequiresMultiFactor(requirement, oidc.client as unknown as ClientLike) ||
        (await accountRequiresMultiFactor(oidc.session.accountId));
      return wanted ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}

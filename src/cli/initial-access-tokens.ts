/**
 * `gatehouse initial-access-tokens create|list|revoke` (FLOW-11): the operator's side of
 * dynamic registration in `initial-access-token` mode. The token is printed once; only its
 * digest is stored.
 */
import type { Services } from '../services.js';
import { initialAccessTokenRequest } from '../registration/initial-access-tokens.js';
import { ValidationError, parseOrThrow } from '../validation.js';
import { UsageError, type Output } from './output.js';

export interface InitialAccessTokenFlags {
  readonly 'expires-in'?: string;
  readonly 'max-uses'?: string;
  readonly description?: string;
}

function wholeNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new ValidationError([`--${flag} must be a whole number`]);
  return Number(value);
}

export async function initialAccessTokenCommand(services: Services, verb: string | undefined, target: string | undefined, flags: InitialAccessTokenFlags, out: Output): Promise<void> {
  const store = services.initialAccessTokens;
  switch (verb) {
    case 'create': {
      const expiresIn = wholeNumber('expires-in', flags['expires-in']);
      const maxUses = wholeNumber('max-uses', flags['max-uses']);
      const request = parseOrThrow(initialAccessTokenRequest, {
        ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}),
        ...(maxUses !== undefined ? { max_uses: maxUses } : {}),
        ...(flags.description ? { description: flags.description } : {}),
      });
      const issued = await store.issue(request);
      const mode = services.config.registration.mode;
      out.result(
        [
          `created initial access token ${issued.id}: ${issued.maxUses} use(s), expires ${issued.expiresAt.toISOString()}`,
          `  token: ${issued.token} (shown once; store it now)`,
          `  register with: curl -s -H "authorization: Bearer ${issued.token}" -H content-type:application/json -d '{"redirect_uris":["https://app.example/cb"]}' ${services.config.issuer}/reg`,
          ...(mode !== 'initial-access-token' ? [`  note: REGISTRATION is "${mode}"; tokens are required only with REGISTRATION=initial-access-token`] : []),
        ].join('\n'),
        issued,
      );
      return;
    }
    case 'list': {
      const tokens = await store.list();
      out.table(
        tokens.map((t) => ({ id: t.id, state: t.state, uses: `${t.uses}/${t.maxUses}`, expires: t.expiresAt, description: t.description })),
        tokens,
      );
      return;
    }
    case 'revoke': {
      if (!target) throw new UsageError('initial-access-tokens revoke needs an ID');
      if (!(await store.revoke(target))) throw new ValidationError([`no active initial access token "${target}"`]);
      out.result(`revoked ${target}`, { revoked: target });
      return;
    }
    default:
      throw new UsageError(`unknown command "initial-access-tokens ${verb ?? ''}"`.trim());
  }
}

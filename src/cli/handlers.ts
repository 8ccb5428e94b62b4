/**
 * What each `gatehouse` command does: the same domain functions the admin API calls, printed
 * for humans or (--json) for scripts. Runs in the CLI process or inside the server that owns the
 * embedded database; either way the output is the same. Listed in commands.ts.
 */
import { registerResourceServers } from '../apis/register.js';
import { registerClients } from '../clients/register.js';
import { migrateToLatest } from '../db/migrate.js';
import { keyRetention } from '../provider/live.js';
import { ValidationError, parseOrThrow } from '../validation.js';
import { newAccountSchema } from '../accounts/schema.js';
import { claimChangesSchema, claimsFromSources } from '../accounts/claims.js';
import { describeReset, resetPassword } from '../accounts/password-reset.js';
import { initialAccessTokenCommand, type InitialAccessTokenFlags } from './initial-access-tokens.js';
import { manageFactors } from './factors.js';
import { ADMIN_API, ADMIN_SCOPES } from '../admin/admin-api.js';
import { quickstart as runQuickstart } from './quickstart.js';
import type { CommandHandler } from './commands.js';

export const migrate: CommandHandler = async ({ services, migrationsApplied, out }) => {
  const applied = [...migrationsApplied, ...(await migrateToLatest(services.db)).applied];
  out.result(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date', { applied });
};

export const importClients: CommandHandler = async ({ services, provider, input, out }) => {
  const saved = await registerClients(input, (await provider()).current, services.clients);
  for (const warning of saved.flatMap((c) => c.warnings ?? [])) out.warn(warning);
  out.result(
    saved
      .map((c) => `${c.created ? 'created' : 'updated'} ${c.clientId}${c.generatedSecret ? `\n  client_secret: ${c.generatedSecret} (shown once; store it now)` : ''}`)
      .join('\n'),
    saved,
  );
};

export const listClients: CommandHandler = async ({ services, out }) => {
  const clients = await services.clients.list();
  out.table(
    clients.map((c) => ({
      client_id: c.clientId,
      name: c.clientName,
      grants: c.grantTypes.join(','),
      auth: c.authMethod,
      scope: c.scope,
      pkce: c.pkceRequired ? 'required' : 'OFF (opt-out)',
      origin: c.origin,
    })),
    clients,
  );
};

export const deleteClient: CommandHandler = async ({ services, target = '', out }) => {
  if (!(await services.clients.delete(target))) throw new ValidationError([`no client "${target}"`]);
  out.result(`deleted ${target}`, { deleted: target });
};

export const importApis: CommandHandler = async ({ services, input, out }) => {
  const saved = await registerResourceServers(input, services.resourceServers);
  out.result(saved.map((a) => `${a.created ? 'created' : 'updated'} ${a.identifier}`).join('\n'), saved);
};

export const listApis: CommandHandler = async ({ services, out }) => {
  const apis = [...(await services.resourceServers.all()).values()];
  out.table(apis.map((a) => ({ identifier: a.identifier, name: a.name, scopes: a.scopes.join(' '), format: a.token_format, ttl: a.access_token_ttl ?? '' })), apis);
};

/** FLOW-10: standard claims from `--claims FILE` (a JSON object) and the --email / --name flags. */
function requestedClaims(files: Readonly<Record<string, unknown>>, flags: Readonly<Record<string, string | boolean | undefined>>): Record<string, unknown> {
  const text = (name: string) => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
  return claimsFromSources(files['claims'], { email: text('email'), name: text('name') });
}

export const createUser: CommandHandler = async ({ services, target, flags, files, input, out }) => {
  const account = parseOrThrow(newAccountSchema, { ...requestedClaims(files, flags), username: target });
  const created = await services.accounts.create(account, String(input));
  out.result(`created user ${created.username} (sub ${created.id})`, created);
};

export const updateUser: CommandHandler = async ({ services, target = '', flags, files, out }) => {
  const changes = parseOrThrow(claimChangesSchema, requestedClaims(files, flags));
  const account = await services.accounts.updateClaims(target, changes);
  out.result(`updated user ${account.username}`, account);
};

export const setPassword: CommandHandler = async ({ services, target = '', flags, input, out }) => {
  const reset = await resetPassword(services, target, String(input), { keepSessions: Boolean(flags['keep-sessions']) });
  out.result(describeReset(reset), {
    username: reset.account.username,
    id: reset.account.id,
    sessions_ended: reset.sessionsEnded,
    ended_sessions: reset.endedSessions,
    revoked_grants: reset.revokedGrants,
  });
};

const initialAccessTokens =
  (verb: 'create' | 'list' | 'revoke'): CommandHandler =>
  ({ services, target, flags, out }) =>
    initialAccessTokenCommand(services, verb, target, flags as InitialAccessTokenFlags, out);
const factors =
  (verb: 'factors' | 'reset-factors' | 'require-mfa'): CommandHandler =>
  ({ services, target, flags, out }) =>
    manageFactors(services, verb, target, Boolean(flags['off']), out);
export const listFactors = factors('factors');
export const resetFactors = factors('reset-factors');
export const requireMfa = factors('require-mfa');

export const createInitialAccessToken = initialAccessTokens('create');
export const listInitialAccessTokens = initialAccessTokens('list');
export const revokeInitialAccessToken = initialAccessTokens('revoke');

export const listUsers: CommandHandler = async ({ services, out }) => {
  const accounts = await services.accounts.list();
  out.table(accounts.map((a) => ({ username: a.username, sub: a.id, email: a.email, disabled: a.disabled })), accounts);
};

export const listKeys: CommandHandler = async ({ services, out }) => {
  await services.keys.ensureInitialKeys();
  const keys = await services.keys.list(new Date(), keyRetention({ config: services.config }, { resourceServers: await services.resourceServers.all() }));
  out.table(
    keys.map(({ key, state, publishedUntil }) => ({
      kid: key.kid,
      purpose: key.purpose,
      alg: key.alg,
      state,
      activates: key.activatesAt,
      published_until: publishedUntil,
    })),
  );
};

export const rotateKeys: CommandHandler = async ({ services, out }) => {
  await services.keys.ensureInitialKeys();
  const { kids, activatesAt } = await services.keys.rotate(services.config.keys.publishDelay);
  await services.feed.publish('keys');
  out.result(`published ${kids.join(', ')}; they become the signers at ${activatesAt.toISOString()}`, { kids, activatesAt });
};

export const bootstrapAdmin: CommandHandler = async ({ services, provider, target, out }) => {
  // The first admin client: a confidential service client allowed the admin API's scopes.
  const clientId = target ?? 'gatehouse-admin-cli';
  const [saved] = await registerClients(
    [{ client_id: clientId, client_name: 'Gatehouse administration', grant_types: ['client_credentials'], scope: ADMIN_SCOPES.join(' ') }],
    (await provider()).current,
    services.clients,
    { allowReservedIds: true },
  );
  const secret = saved?.generatedSecret;
  out.result(
    [
      `${saved?.created ? 'created' : 'updated'} admin client ${clientId}`,
      secret ? `  client_secret: ${secret} (shown once; store it now)` : '  (secret unchanged)',
      '  get a token:',
      `  curl -s -u ${clientId}:${secret ?? 'SECRET'} -d grant_type=client_credentials -d resource=${ADMIN_API} -d "scope=admin:read admin:write" ${services.config.issuer}/token`,
    ].join('\n'),
    { clientId, clientSecret: secret, resource: ADMIN_API, scopes: ADMIN_SCOPES },
  );
};

export const quickstart: CommandHandler = async ({ services, provider, flags, out }) => {
  await runQuickstart(services, await provider(), out, Boolean(flags['i-know-this-is-a-real-database']));
};

#!/usr/bin/env node
/**
 * The `gatehouse` command. Thin: parses arguments, opens the services, calls the same domain
 * functions the admin API uses, prints for humans or (--json) for scripts.
 * Exit codes: 0 ok, 1 failure, 2 usage, 65 invalid input, 69 embedded database in use, 78 bad config.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { registerResourceServers } from '../apis/register.js';
import { registerClients } from '../clients/register.js';
import { ConfigError, configFromProcessEnvironment } from '../config/index.js';
import { DataDirInUseError } from '../db/data-dir-lock.js';
import { migrateToLatest } from '../db/migrate.js';
import { payloadHasUnstorableText } from '../adapter/records.js';
import { keyRetention } from '../provider/live.js';
import { createLogger } from '../observability/logger.js';
import { buildLiveProvider, openServices, type Services } from '../services.js';
import { ValidationError, parseOrThrow } from '../validation.js';
import { newAccountSchema } from '../accounts/schema.js';
import { claimChangesSchema, claimsFromSources } from '../accounts/claims.js';
import { createOutput, UsageError, type Output } from './output.js';
import { quickstart } from './quickstart.js';
import { manageFactors } from './factors.js';
import { ADMIN_API, ADMIN_SCOPES } from '../admin/admin-api.js';

const USAGE = `Usage: gatehouse <command> [options]

Commands:
  migrate                              apply database migrations
  clients import FILE                  upsert clients from a JSON array of client metadata
  clients list                         list registered clients
  clients delete CLIENT_ID             delete a client and everything issued to it
  apis import FILE                     upsert APIs (resource servers) from a JSON array
  apis list                            list registered APIs
  users create USERNAME --password-stdin [--email E] [--name N] [--claims FILE]
  users update USERNAME [--email E] [--name N] [--claims FILE]
                                       set OpenID Connect standard claims (FILE: a JSON object; null removes one)
  users set-password USERNAME --password-stdin
  users list                           list accounts
  users factors USERNAME               list a user's second factors and passkeys
  users reset-factors USERNAME         remove them all and end the user's sessions
  users require-mfa USERNAME [--off]   require multi-factor sign-in (or stop requiring it)
  keys list                            list signing and cookie keys with their state
  keys rotate                          publish new keys; they sign after KEY_PUBLISH_DELAY
  admin bootstrap [CLIENT_ID]          create the first admin API client (default gatehouse-admin-cli)
  quickstart                           register a demo API, clients and user (embedded database)

Options:
  --json                               machine-readable output
  --help                               this text
`;

async function readJsonFile(file: string | undefined): Promise<unknown> {
  if (!file) throw new UsageError('a FILE argument is required');
  const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ValidationError([`${file} is not valid JSON: ${(error as Error).message}`]);
  }
  if (payloadHasUnstorableText(parsed)) throw new ValidationError([`${file}: values must not contain NUL characters or unpaired surrogates`]);
  return parsed;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readPassword(flags: { 'password-stdin'?: boolean }): Promise<string> {
  if (!flags['password-stdin']) throw new UsageError('pass the password on standard input with --password-stdin');
  return (await readStdin()).replace(/\r?\n$/, '');
}

type Flags = { json?: boolean; 'password-stdin'?: boolean; email?: string; name?: string; claims?: string; 'i-know-this-is-a-real-database'?: boolean; off?: boolean };

async function run(services: Services, args: string[], flags: Flags, out: Output): Promise<void> {
  const [noun, verb, target] = args;
  const logger = createLogger('warn');
  switch (`${noun} ${verb ?? ''}`.trim()) {
    case 'migrate': {
      const { applied } = await migrateToLatest(services.db);
      out.result(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date', { applied });
      return;
    }
    case 'clients import': {
      const { live } = await buildLiveProvider(services, logger);
      const saved = await registerClients(await readJsonFile(target), live.current, services.clients);
      for (const warning of saved.flatMap((c) => c.warnings ?? [])) process.stderr.write(`gatehouse: warning: ${warning}\n`);
      out.result(
        saved
          .map((c) => `${c.created ? 'created' : 'updated'} ${c.clientId}${c.generatedSecret ? `\n  client_secret: ${c.generatedSecret} (shown once; store it now)` : ''}`)
          .join('\n'),
        saved,
      );
      return;
    }
    case 'clients list': {
      const clients = await services.clients.list();
      out.table(
        clients.map((c) => ({ client_id: c.clientId, name: c.clientName, grants: c.grantTypes.join(','), auth: c.authMethod, scope: c.scope, pkce: c.pkceRequired ? 'required' : 'OFF (opt-out)' })),
        clients,
      );
      return;
    }
    case 'clients delete': {
      if (!target) throw new UsageError('clients delete needs a CLIENT_ID');
      if (!(await services.clients.delete(target))) throw new ValidationError([`no client "${target}"`]);
      out.result(`deleted ${target}`, { deleted: target });
      return;
    }
    case 'apis import': {
      const saved = await registerResourceServers(await readJsonFile(target), services.resourceServers);
      out.result(saved.map((a) => `${a.created ? 'created' : 'updated'} ${a.identifier}`).join('\n'), saved);
      return;
    }
    case 'apis list': {
      const apis = [...(await services.resourceServers.all()).values()];
      out.table(apis.map((a) => ({ identifier: a.identifier, name: a.name, scopes: a.scopes.join(' '), format: a.token_format, ttl: a.access_token_ttl ?? '' })), apis);
      return;
    }
    case 'users create': {
      const claims = claimsFromSources(flags.claims ? await readJsonFile(flags.claims) : undefined, flags);
      const input = parseOrThrow(newAccountSchema, { ...claims, username: target });
      const account = await services.accounts.create(input, await readPassword(flags));
      out.result(`created user ${account.username} (sub ${account.id})`, account);
      return;
    }
    case 'users update': {
      // FLOW-10: standard claims from --claims FILE (a JSON object; null removes a claim) and flags.
      if (!target) throw new UsageError('users update needs a USERNAME');
      const changes = parseOrThrow(claimChangesSchema, claimsFromSources(flags.claims ? await readJsonFile(flags.claims) : undefined, flags));
      const account = await services.accounts.updateClaims(target, changes);
      out.result(`updated user ${account.username}`, account);
      return;
    }
    case 'users set-password': {
      if (!target) throw new UsageError('users set-password needs a USERNAME');
      const account = await services.accounts.setPassword(target, await readPassword(flags));
      out.result(`password changed for ${account.username}`, { username: account.username, id: account.id });
      return;
    }
    case 'users list': {
      const accounts = await services.accounts.list();
      out.table(accounts.map((a) => ({ username: a.username, sub: a.id, email: a.email, disabled: a.disabled })), accounts);
      return;
    }
    case 'users factors':
    case 'users reset-factors':
    case 'users require-mfa': {
      await manageFactors(services, verb ?? '', target, Boolean(flags.off), out);
      return;
    }
    case 'keys list': {
      await services.keys.ensureInitialKeys();
      const keys = await services.keys.list(new Date(), keyRetention({ config: services.config }, { resourceServers: await services.resourceServers.all() }));
      const rows = keys.map(({ key, state, publishedUntil }) => ({
        kid: key.kid,
        purpose: key.purpose,
        alg: key.alg,
        state,
        activates: key.activatesAt,
        published_until: publishedUntil,
      }));
      out.table(rows);
      return;
    }
    case 'keys rotate': {
      await services.keys.ensureInitialKeys();
      const { kids, activatesAt } = await services.keys.rotate(services.config.keys.publishDelay);
      await services.feed.publish('keys');
      out.result(`published ${kids.join(', ')}; they become the signers at ${activatesAt.toISOString()}`, { kids, activatesAt });
      return;
    }
    case 'admin bootstrap': {
      // The first admin client: a confidential service client allowed the admin API's scopes.
      const clientId = target ?? 'gatehouse-admin-cli';
      const { live } = await buildLiveProvider(services, logger);
      const [saved] = await registerClients(
        [{ client_id: clientId, client_name: 'Gatehouse administration', grant_types: ['client_credentials'], scope: ADMIN_SCOPES.join(' ') }],
        live.current,
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
      return;
    }
    case 'quickstart': {
      const { live } = await buildLiveProvider(services, logger);
      await quickstart(services, live, out, Boolean(flags['i-know-this-is-a-real-database']));
      return;
    }
    default:
      throw new UsageError(noun ? `unknown command "${args.join(' ')}"` : 'a command is required');
  }
}

export async function cli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'password-stdin': { type: 'boolean' },
        email: { type: 'string' },
        name: { type: 'string' },
        claims: { type: 'string' },
        'i-know-this-is-a-real-database': { type: 'boolean' },
        off: { type: 'boolean' },
      },
    });
  } catch (error) {
    process.stderr.write(`gatehouse: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  if (flags.help || !positionals.length) {
    process.stdout.write(USAGE);
    return flags.help ? 0 : 2;
  }
  const out = createOutput(Boolean(flags.json));
  let services: Services | undefined;
  try {
    const config = configFromProcessEnvironment();
    services = await openServices(config, { logger: createLogger('warn'), listen: false, migrate: true });
    await run(services, positionals, flags as Flags, out);
    return 0;
  } catch (error) {
    const fail = (code: number, problems: readonly string[]) => {
      if (out.json) process.stderr.write(`${JSON.stringify({ error: problems })}\n`);
      else for (const problem of problems) process.stderr.write(`gatehouse: ${problem}\n`);
      return code;
    };
    if (error instanceof UsageError) return fail(2, [error.message]);
    if (error instanceof ValidationError) return fail(65, error.problems);
    if (error instanceof ConfigError) return fail(78, error.problems);
    if (error instanceof DataDirInUseError) return fail(69, [error.message]);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fail(65, [(error as Error).message]);
    return fail(1, [(error as Error).message]);
  } finally {
    await services?.close();
  }
}

cli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

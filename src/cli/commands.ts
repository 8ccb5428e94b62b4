/**
 * Every `gatehouse` command, one entry each: the words that select it, its usage line, what the
 * CLI process reads before running it (a JSON file, a password on stdin), its options, and its
 * handler, loaded only when the command runs (so `--help` or a typo answers without loading the
 * engine or opening the database). The same entry runs in the CLI process or, when a server owns
 * the embedded database, inside that server (src/admin/cli-socket.ts).
 * Adding a command: one entry here and its handler in handlers.ts (or a file of its own beside it).
 */
import type { LiveProvider } from '../provider/live.js';
import type { Services } from '../services.js';
import { UsageError, type Output } from './output.js';

export interface CommandContext {
  readonly services: Services;
  /** Migrations applied while opening the database for this command. */
  readonly migrationsApplied: readonly string[];
  /** The provider (built on first use in the CLI; the running one inside the server). */
  provider(): Promise<LiveProvider>;
  /** The positional argument after the command words (e.g. the CLIENT_ID). */
  readonly target: string | undefined;
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  /** The parsed JSON file or the password, as the spec's `input` says. */
  readonly input: unknown;
  /** The parsed JSON files named by the spec's `fileOptions`, by option name. */
  readonly files: Readonly<Record<string, unknown>>;
  readonly out: Output;
}

export type CommandHandler = (context: CommandContext) => Promise<void>;

export interface CommandSpec {
  /** The words that select the command, e.g. `clients import`. */
  readonly name: string;
  /** Arguments after the words, for the usage text, e.g. `FILE`. */
  readonly args?: string;
  readonly summary: string;
  /** Read by the CLI process (paths and stdin are the operator's): a JSON file named by the target, or a password on stdin. */
  readonly input?: 'json-file' | 'password';
  /** A required positional argument, named in the usage error when missing. */
  readonly requires?: string;
  readonly options?: Readonly<Record<string, { readonly type: 'boolean' | 'string'; readonly description?: string }>>;
  /** String options that name a JSON file, read by the CLI process like `input` (e.g. `--claims FILE`). */
  readonly fileOptions?: readonly string[];
  /** Brings the schema up to date itself; every other command refuses a database behind. */
  readonly migrates?: boolean;
  /** Checks run before anything is opened; throw to refuse. */
  readonly guard?: (database: 'postgres' | 'embedded', flags: CommandContext['flags']) => void;
  readonly handler: () => Promise<CommandHandler>;
}

const handlers = () => import('./handlers.js');

const USER_CLAIM_OPTIONS = { email: { type: 'string' }, name: { type: 'string' }, claims: { type: 'string' } } as const;

export const COMMANDS: readonly CommandSpec[] = [
  { name: 'migrate', summary: 'apply database migrations', migrates: true, handler: async () => (await handlers()).migrate },
  { name: 'clients import', args: 'FILE', requires: 'FILE', input: 'json-file', summary: 'upsert clients from a JSON array of client metadata', handler: async () => (await handlers()).importClients },
  { name: 'clients list', summary: 'list registered clients', handler: async () => (await handlers()).listClients },
  { name: 'clients delete', args: 'CLIENT_ID', requires: 'CLIENT_ID', summary: 'delete a client and everything issued to it', handler: async () => (await handlers()).deleteClient },
  { name: 'apis import', args: 'FILE', requires: 'FILE', input: 'json-file', summary: 'upsert APIs (resource servers) from a JSON array', handler: async () => (await handlers()).importApis },
  { name: 'apis list', summary: 'list registered APIs', handler: async () => (await handlers()).listApis },
  {
    name: 'users create',
    args: 'USERNAME --password-stdin [--email E] [--name N] [--claims FILE]',
    requires: 'USERNAME',
    input: 'password',
    options: USER_CLAIM_OPTIONS,
    fileOptions: ['claims'],
    summary: 'create an account (FILE: OpenID Connect standard claims as a JSON object)',
    handler: async () => (await handlers()).createUser,
  },
  {
    name: 'users update',
    args: 'USERNAME [--email E] [--name N] [--claims FILE]',
    requires: 'USERNAME',
    options: USER_CLAIM_OPTIONS,
    fileOptions: ['claims'],
    summary: 'set OpenID Connect standard claims (FILE: a JSON object; null removes one)',
    handler: async () => (await handlers()).updateUser,
  },
  {
    name: 'users set-password',
    args: 'USERNAME --password-stdin [--keep-sessions]',
    requires: 'USERNAME',
    input: 'password',
    options: { 'keep-sessions': { type: 'boolean' } },
    summary: "reset a password; ends the user's sessions and refresh tokens unless --keep-sessions",
    handler: async () => (await handlers()).setPassword,
  },
  { name: 'users factors', args: 'USERNAME', requires: 'USERNAME', summary: "list a user's second factors and passkeys", handler: async () => (await handlers()).listFactors },
  { name: 'users reset-factors', args: 'USERNAME', requires: 'USERNAME', summary: "remove them all and end the user's sessions", handler: async () => (await handlers()).resetFactors },
  {
    name: 'users require-mfa',
    args: 'USERNAME [--off]',
    requires: 'USERNAME',
    options: { off: { type: 'boolean' } },
    summary: 'require multi-factor sign-in (or stop requiring it)',
    handler: async () => (await handlers()).requireMfa,
  },
  { name: 'users list', summary: 'list accounts', handler: async () => (await handlers()).listUsers },
  { name: 'keys list', summary: 'list signing and cookie keys with their state', handler: async () => (await handlers()).listKeys },
  { name: 'keys rotate', summary: 'publish new keys; they sign after KEY_PUBLISH_DELAY', handler: async () => (await handlers()).rotateKeys },
  {
    name: 'initial-access-tokens create',
    args: '[--expires-in SECONDS] [--max-uses N] [--description TEXT]',
    options: { 'expires-in': { type: 'string' }, 'max-uses': { type: 'string' }, description: { type: 'string' } },
    summary: 'issue a token for dynamic client registration (REGISTRATION)',
    handler: async () => (await handlers()).createInitialAccessToken,
  },
  { name: 'initial-access-tokens list', summary: 'list initial access tokens and their uses', handler: async () => (await handlers()).listInitialAccessTokens },
  { name: 'initial-access-tokens revoke', args: 'ID', requires: 'ID', summary: 'revoke an initial access token', handler: async () => (await handlers()).revokeInitialAccessToken },
  { name: 'admin bootstrap', args: '[CLIENT_ID]', summary: 'create the first admin API client (default gatehouse-admin-cli)', handler: async () => (await handlers()).bootstrapAdmin },
  {
    name: 'quickstart',
    summary: 'register a demo API, clients and user (embedded database; migrates a new one)',
    migrates: true,
    options: { 'i-know-this-is-a-real-database': { type: 'boolean' } },
    guard: (database, flags) => {
      if (database !== 'embedded' && !flags['i-know-this-is-a-real-database']) {
        throw new UsageError('quickstart creates demo clients and a demo user; on a real DATABASE_URL pass --i-know-this-is-a-real-database');
      }
    },
    handler: async () => (await handlers()).quickstart,
  },
];

/** The command named by the leading positionals, and the positionals after its words. */
export function findCommand(positionals: readonly string[]): { spec: CommandSpec; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = positionals.slice(0, words).join(' ');
    const spec = COMMANDS.find((command) => command.name === name);
    if (spec && positionals.length >= words) return { spec, rest: positionals.slice(words) };
  }
  return undefined;
}

export function commandByName(name: string): CommandSpec | undefined {
  return COMMANDS.find((command) => command.name === name);
}

export function usageText(): string {
  const lines = COMMANDS.map((command) => {
    const head = [command.name, command.args].filter(Boolean).join(' ');
    return head.length < 37 ? `  ${head.padEnd(37)}${command.summary}` : `  ${head}\n  ${''.padEnd(37)}${command.summary}`;
  });
  return `Usage: gatehouse <command> [options]

Commands:
${lines.join('\n')}
  help                                 this text

Options:
  --json                               machine-readable output
  --help                               this text
  --version                            the Gatehouse version

With the embedded database, while a server runs on the same data folder the command is sent
to that server (over ${'`'}gatehouse.sock${'`'} in the data folder) and runs there.
`;
}

/**
 * Registering clients from operator input (CLI file, admin API). Enforces API-3: the whole
 * batch is checked — field allowlist and types by schema, protocol rules by the engine's own
 * client validation — before anything is written, and then written atomically.
 */
import type Provider from 'oidc-provider';
import { ValidationError, describeIssues } from '../validation.js';
import { clientMetadataSchema, clientMetadataSchemaAllowingReserved, pkceOptedOut, type ClientMetadata } from './schema.js';
import type { ClientStore, SavedClient } from './store.js';

// A stand-in secret for validation only: the engine insists confidential clients have one.
const PLACEHOLDER_SECRET = 'x'.repeat(43);

/** A saved client, with what the operator should know about it (e.g. a PKCE opt-out, FLOW-1). */
export interface RegisteredClient extends SavedClient {
  readonly warnings?: readonly string[];
}

/** Registrations that are allowed but weaken a default: said at import, in the CLI and the admin API. */
export function registrationWarnings(client: ClientMetadata): string[] {
  return pkceOptedOut(client)
    ? [`${client.client_id}: require_pkce is false, so this client may use the authorization endpoint without PKCE (FLOW-1 opt-out; use it only for legacy relying parties and conformance testing)`]
    : [];
}

export async function registerClients(
  input: unknown,
  provider: Provider,
  store: ClientStore,
  options: { allowReservedIds?: boolean } = {},
): Promise<RegisteredClient[]> {
  if (!Array.isArray(input)) throw new ValidationError(['expected a JSON array of client metadata objects']);
  if (input.length > 1000) throw new ValidationError(['at most 1000 clients per import']);
  const problems: string[] = [];
  const clients: ClientMetadata[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of input.entries()) {
    const parsed = (options.allowReservedIds ? clientMetadataSchemaAllowingReserved : clientMetadataSchema).safeParse(entry);
    if (!parsed.success) {
      problems.push(...describeIssues(parsed.error, `[${index}]`));
      continue;
    }
    const client = parsed.data;
    if (seen.has(client.client_id)) problems.push(`[${index}].client_id: "${client.client_id}" appears twice`);
    seen.add(client.client_id);
    try {
      await provider.Client.validate({ ...client, client_secret: client.client_secret ?? PLACEHOLDER_SECRET } as never);
    } catch (error) {
      const described = error as { error_description?: string; message?: string };
      problems.push(`[${index}] (${client.client_id}): ${described.error_description ?? described.message ?? 'invalid metadata'}`);
      continue;
    }
    clients.push(client);
  }
  if (problems.length) throw new ValidationError(problems);
  const saved = await store.saveAll(clients);
  return saved.map((entry, index) => {
    const warnings = registrationWarnings(clients[index] as ClientMetadata);
    return warnings.length ? { ...entry, warnings } : entry;
  });
}

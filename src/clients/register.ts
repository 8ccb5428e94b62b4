/**
 * Registering clients from operator input (CLI file, admin API). Enforces API-3: the whole
 * batch is checked — field allowlist and types by schema, protocol rules by the engine's own
 * client validation — before anything is written, and then written atomically.
 */
import type Provider from 'oidc-provider';
import { ValidationError, describeIssues } from '../validation.js';
import { clientMetadataSchema, clientMetadataSchemaAllowingReserved, type ClientMetadata } from './schema.js';
import type { ClientStore, SavedClient } from './store.js';

// A stand-in secret for validation only: the engine insists confidential clients have one.
const PLACEHOLDER_SECRET = 'x'.repeat(43);

export async function registerClients(
  input: unknown,
  provider: Provider,
  store: ClientStore,
  options: { allowReservedIds?: boolean } = {},
): Promise<SavedClient[]> {
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
  return store.saveAll(clients);
}

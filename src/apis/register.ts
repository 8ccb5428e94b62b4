/** Registering resource servers: the whole batch validated first, then written atomically. */
import { ValidationError, describeIssues } from '../validation.js';
import { resourceServerSchema, type ResourceServer } from './schema.js';
import type { ResourceServerStore } from './store.js';

export async function registerResourceServers(input: unknown, store: ResourceServerStore) {
  if (!Array.isArray(input)) throw new ValidationError(['expected a JSON array of API definitions']);
  if (input.length > 1000) throw new ValidationError(['at most 1000 APIs per import']);
  const problems: string[] = [];
  const servers: ResourceServer[] = [];
  for (const [index, entry] of input.entries()) {
    const parsed = resourceServerSchema.safeParse(entry);
    if (parsed.success) servers.push(parsed.data);
    else problems.push(...describeIssues(parsed.error, `[${index}]`));
  }
  if (problems.length) throw new ValidationError(problems);
  return store.saveAll(servers);
}

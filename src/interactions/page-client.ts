/**
 * The client a sign-in serves, as its pages need it: the name to show, and the form targets of
 * the page's CSP — the client's redirect URIs and, for a native app, the loopback port this
 * sign-in asked for (FLOW-9). Every page of a sign-in (first step, retries, second step) takes
 * them from here, so none of them blocks the final redirect to the app.
 */
import type Provider from 'oidc-provider';
import { clientFormTargets } from '../security/headers.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
type Client = NonNullable<Awaited<ReturnType<Provider['Client']['find']>>>;

export interface PageClient {
  readonly client: Client | undefined;
  readonly clientName: string;
  readonly formTargets: string[];
}

export async function pageClient(provider: Provider, details: Details): Promise<PageClient> {
  const client = await provider.Client.find(String(details.params['client_id']));
  return {
    client,
    clientName: client?.clientName ?? client?.clientId ?? 'the application',
    formTargets: client ? clientFormTargets(client, details.params['redirect_uri']) : [],
  };
}

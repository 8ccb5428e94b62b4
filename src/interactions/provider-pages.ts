/** The engine's own pages (logout confirmation, signed out, errors) in Gatehouse's look. */
import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import type { ProviderPages } from '../provider/pages.js';
import { errorPage, logoutPage, signedOutPage } from './views/pages.js';
import { sendPage } from './respond.js';
import { clientFormTargets } from '../security/headers.js';

function clientName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
}

const FRIENDLY: Record<string, string> = {
  invalid_redirect_uri: 'The application sent you here with a return address it has not registered, so Gatehouse did not send you back to it.',
  invalid_client: 'The application that sent you here is not known to Gatehouse.',
  invalid_request: 'The request from the application was not valid.',
  session_not_found: 'Your sign-in took too long or was started in another browser. Go back to the application and start again.',
};

export const providerPages: ProviderPages = {
  async logout(ctx, form) {
    const client = ctx.oidc?.client;
    // FLOW-9: a native client's loopback post-logout URI matches any port, as its redirect URIs do.
    const formTargets = client
      ? clientFormTargets(
          {
            applicationType: client.applicationType,
            redirectUris: client.postLogoutRedirectUris as string[] | undefined,
            redirectUriAllowed: (uri) => client.postLogoutRedirectUriAllowed(uri),
          },
          ctx.oidc.params?.['post_logout_redirect_uri'],
        )
      : [];
    sendPage(ctx, logoutPage(form, clientName(ctx)), { formTargets });
  },
  async signedOut(ctx) {
    sendPage(ctx, signedOutPage(clientName(ctx)));
  },
  async error(ctx, out: ErrorOut, error: Error) {
    const status = ctx.status >= 400 ? ctx.status : 400;
    const serverSide = status >= 500;
    const description = out.error_description;
    const message = serverSide
      ? 'Something went wrong on our side. Please try again in a moment.'
      : (FRIENDLY[out.error] ?? (typeof description === 'string' && description ? description : 'The request could not be completed.'));
    void error;
    let signedIn = false;
    try {
      signedIn = Boolean(ctx.oidc?.session?.accountId);
    } catch {
      // the error happened before the session was loaded
    }
    sendPage(ctx, errorPage({ title: serverSide ? 'Something went wrong' : 'This request cannot be completed', message, code: out.error, signedIn }), { status });
  },
};

/** The engine's own pages (logout confirmation, signed out, errors) in Gatehouse's look. */
import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import type { ProviderPages } from '../provider/pages.js';
import { errorPage, logoutPage, signedOutPage } from './views/pages.js';
import { sendPage } from './respond.js';
import { clientFormTargets } from '../security/headers.js';
import { explainEngineError } from './error-explanations.js';

function clientName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
}

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
    const description = typeof out.error_description === 'string' ? out.error_description : undefined;
    void error;
    let signedIn = false;
    try {
      signedIn = Boolean(ctx.oidc?.session?.accountId);
    } catch {
      // the error happened before the session was loaded
    }
    // FLOW-6: what went wrong in plain words and what to do; the engine's words only as a detail.
    const explanation = explainEngineError(ctx.oidc?.route, { error: out.error, description, status, signedIn });
    sendPage(
      ctx,
      errorPage({ ...explanation, code: out.error, ...(status < 500 && description ? { detail: description } : {}), signedIn }),
      { status },
    );
  },
};

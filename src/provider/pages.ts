import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';

/** The HTML the engine itself renders, supplied by src/interactions so all pages share one look. */
export interface ProviderPages {
  logout(ctx: KoaContextWithOIDC, form: string): Promise<void>;
  signedOut(ctx: KoaContextWithOIDC): Promise<void>;
  error(ctx: KoaContextWithOIDC, out: ErrorOut, error: Error): Promise<void>;
}

/** The client and API every benchmark target gets, identical for the baseline and Gatehouse. */
export const BENCH_API = 'https://bench-api.example';
export const BENCH_CLIENT = 'bench-service';
export const BENCH_SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
export const BENCH_SCOPES = 'bench:read bench:write';
export const BENCH_SPA = 'bench-spa';
export const BENCH_SPA_REDIRECT = 'https://bench-app.example/cb';
export const BENCH_USER = 'bench-user';
export const BENCH_PASSWORD = 'bench-password-0123456789';
/** A service that authenticates with its certificate (tls_client_auth) and gets bound tokens. */
export const BENCH_MTLS_CLIENT = 'bench-mtls';
export const BENCH_MTLS_DNS = 'bench-mtls.internal';

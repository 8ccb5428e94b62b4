/**
 * Browser sign-ins for the benchmark, against Gatehouse's pages or the bare engine's development
 * pages: follow redirects, submit the forms, redeem the code. Used to mint refresh and access
 * tokens for the user scenarios, and as the "complete logins per second" scenario itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BENCH_SPA, BENCH_SPA_REDIRECT, BENCH_USER, BENCH_PASSWORD } from './fixtures.js';

export interface UserTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
}

class Jar {
  readonly #cookies = new Map<string, string>();
  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const value = pair.slice(eq + 1);
      if (value) this.#cookies.set(pair.slice(0, eq), value);
      else this.#cookies.delete(pair.slice(0, eq));
    }
  }
  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export async function signIn(base: string): Promise<UserTokens> {
  const jar = new Jar();
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL('/auth', base);
  auth.search = new URLSearchParams({
    client_id: BENCH_SPA,
    response_type: 'code',
    scope: 'openid offline_access',
    prompt: 'consent',
    redirect_uri: BENCH_SPA_REDIRECT,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'bench',
  }).toString();
  const request = async (url: URL, form?: Record<string, string>) => {
    const response = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie: jar.header(), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form) : undefined,
    });
    jar.store(response);
    return response;
  };
  let url = auth;
  let response = await request(url);
  for (let step = 0; step < 20; step += 1) {
    const location = response.headers.get('location');
    if (location) {
      url = new URL(location, url);
      if (url.href.startsWith(BENCH_SPA_REDIRECT)) break;
      response = await request(url);
      continue;
    }
    const html = await response.text();
    const uid = url.pathname.split('/')[2] ?? '';
    if (html.includes('name="password"') && html.includes('/login"')) {
      response = await request(new URL(`/interaction/${uid}/login`, base), { username: BENCH_USER, password: BENCH_PASSWORD });
    } else if (html.includes('/confirm"')) {
      response = await request(new URL(`/interaction/${uid}/confirm`, base), {});
    } else if (html.includes('name="login"')) {
      response = await request(new URL(`/interaction/${uid}`, base), { prompt: 'login', login: BENCH_USER, password: BENCH_PASSWORD });
    } else if (html.includes('name="prompt" value="consent"')) {
      response = await request(new URL(`/interaction/${uid}`, base), { prompt: 'consent' });
    } else {
      throw new Error(`sign-in stopped at ${url.pathname} (${response.status})`);
    }
  }
  const code = url.searchParams.get('code');
  if (!code) throw new Error(`sign-in ended without a code at ${url.href}`);
  const token = await fetch(new URL('/token', base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: BENCH_SPA_REDIRECT, client_id: BENCH_SPA }),
  });
  const body = (await token.json()) as { access_token?: string; refresh_token?: string };
  if (!body.access_token || !body.refresh_token) throw new Error(`code exchange failed: ${JSON.stringify(body)}`);
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}

/** Complete sign-ins per second with `concurrency` browsers for `seconds`. */
export async function loginRate(base: string, concurrency: number, seconds: number) {
  const durations: number[] = [];
  let failed = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        const started = performance.now();
        try {
          await signIn(base);
          durations.push(performance.now() - started);
        } catch {
          failed += 1;
        }
      }
    }),
  );
  durations.sort((a, b) => a - b);
  const at = (q: number) => Math.round(durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0);
  return { perSecond: durations.length / seconds, p50: at(0.5), p99: at(0.99), failed };
}

/** Refresh-token grants per second: one worker per rotating chain, each using its latest token. */
export async function refreshRate(base: string, chains: string[], seconds: number) {
  const durations: number[] = [];
  let failed = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    chains.map(async (_, index) => {
      while (Date.now() < until) {
        const started = performance.now();
        const response = await fetch(new URL('/token', base), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chains[index] ?? '', client_id: BENCH_SPA }),
        });
        const body = (await response.json()) as { refresh_token?: string };
        if (response.status === 200 && body.refresh_token) {
          chains[index] = body.refresh_token;
          durations.push(performance.now() - started);
        } else {
          failed += 1;
          break;
        }
      }
    }),
  );
  durations.sort((a, b) => a - b);
  const at = (q: number) => Math.round(durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0);
  return { perSecond: durations.length / seconds, p50: at(0.5), p99: at(0.99), failed };
}

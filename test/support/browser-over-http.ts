/**
 * Walks the login and consent pages with plain HTTP, like a browser without script: keeps
 * cookies, follows redirects by hand, submits the forms the pages render.
 */
export class CookieJar {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const pathAttribute = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const cookiePath = pathAttribute ? pathAttribute.slice(5) : '/';
      const expired = attributes.some((a) => /^expires=thu, 01 jan 1970/i.test(a.trim())) || attributes.some((a) => /^max-age=0$/i.test(a.trim()));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, { value, path: cookiePath });
    }
  }

  header(url: URL): string {
    return [...this.#cookies.entries()]
      .filter(([, cookie]) => url.pathname.startsWith(cookie.path))
      .map(([name, cookie]) => `${name}=${cookie.value}`)
      .join('; ');
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name)?.value;
  }

  set(name: string, value: string, path = '/'): void {
    this.#cookies.set(name, { value, path });
  }

  names(): string[] {
    return [...this.#cookies.keys()];
  }
}

export interface HttpBrowserOptions {
  /** Behind a TLS proxy: send requests for `publicOrigin` to `listener` with X-Forwarded-Proto. */
  readonly proxy?: { readonly publicOrigin: string; readonly listener: string; readonly https?: boolean };
  readonly userAgent?: string;
}

export class HttpBrowser {
  readonly jar = new CookieJar();
  /** Every Set-Cookie header seen, in order. */
  readonly setCookies: string[] = [];

  constructor(private readonly options: HttpBrowserOptions = {}) {}

  async request(url: string | URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.options.userAgent) headers['user-agent'] = this.options.userAgent;
    let wire = target;
    const { proxy } = this.options;
    if (proxy && target.origin === proxy.publicOrigin) {
      wire = new URL(target.pathname + target.search, proxy.listener);
      // What a load balancer tells the server: the public host and protocol.
      headers['x-forwarded-proto'] = proxy.https === false ? 'http' : 'https';
      headers['x-forwarded-host'] = new URL(proxy.publicOrigin).host;
    }
    const cookie = this.jar.header(target);
    if (cookie) headers['cookie'] = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(wire, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.setCookies.push(...response.headers.getSetCookie());
    this.jar.store(response);
    return response;
  }

  /** Follows redirects on `issuer` until one leaves it; returns that URL, or the page it stopped on. */
  async follow(start: string | URL, issuer: string, init: { form?: Record<string, string> } = {}): Promise<{ url: URL; page?: Response }> {
    let response = await this.request(start, init);
    let current = new URL(start);
    for (let hops = 0; hops < 10; hops += 1) {
      const location = response.headers.get('location');
      if (!location || response.status < 300 || response.status >= 400) return { url: current, page: response };
      current = new URL(location, current);
      if (!current.href.startsWith(issuer)) return { url: current };
      response = await this.request(current);
    }
    throw new Error('too many redirects');
  }

  /** From an authorization URL to the client's redirect URI: sign in, then allow. */
  async authorize(
    authorizationUrl: URL,
    issuer: string,
    credentials: { username: string; password: string; secondFactor?: (page: string) => Record<string, string> },
  ): Promise<URL> {
    let step = await this.follow(authorizationUrl, issuer);
    for (let pages = 0; pages < 6 && step.page; pages += 1) {
      const html = await step.page.text();
      const uid = step.url.pathname.split('/')[2];
      const autoForm = /<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
      if (!step.url.pathname.startsWith('/interaction/') && autoForm?.[1]) {
        // An engine page that a browser with script would submit by itself ("Continue").
        const fields = Object.fromEntries([...(autoForm[2] ?? '').matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
        step = await this.follow(new URL(autoForm[1].replace(/&amp;/g, '&'), step.url), issuer, { form: fields as Record<string, string> });
        continue;
      }
      if (!step.url.pathname.startsWith('/interaction/')) {
        throw new Error(`unexpected page at ${step.url}: ${step.page.status} ${html.replace(/<head>[\s\S]*<\/head>/, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`);
      }
      if (html.includes('name="password"')) {
        step = await this.follow(`${issuer}/interaction/${uid}/login`, issuer, { form: { username: credentials.username, password: credentials.password } });
      } else if (/\/(second-factor|enrol)"/.test(html) && credentials.secondFactor) {
        // The code page, or (MFA-3) the enrolment page of a sign-in that requires a second factor.
        const action = html.includes('/enrol"') ? 'enrol' : 'second-factor';
        step = await this.follow(`${issuer}/interaction/${uid}/${action}`, issuer, { form: credentials.secondFactor(html) });
      } else if (html.includes('I have saved them, continue')) {
        const href = /<a class="button" href="([^"]+)">I have saved them/.exec(html)?.[1] ?? '';
        step = await this.follow(href.replace(/&amp;/g, '&'), issuer);
      } else if (html.includes('/confirm"')) {
        step = await this.follow(`${issuer}/interaction/${uid}/confirm`, issuer, { form: {} });
      } else {
        throw new Error(`unexpected page at ${step.url}: ${step.page.status} ${html.replace(/<head>[\s\S]*<\/head>/, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`);
      }
    }
    if (step.page) throw new Error(`did not reach the client: stopped at ${step.url}`);
    return step.url;
  }
}

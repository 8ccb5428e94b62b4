import { describe, expect, it } from 'vitest';
import { ConfigError, configWarnings, loadConfig } from '../../src/config/index.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('defaults to the embedded database and safe lifetimes', () => {
    const config = loadConfig({});
    expect(config.database.kind).toBe('embedded');
    expect(config.issuer).toBe('http://localhost:3000');
    expect(config.ttl.accessToken).toBe(900);
    expect(config.ttl.refreshToken).toBe(7 * 24 * 3600);
    expect(config.ttl.sessionMaxAge).toBe(12 * 3600);
    expect(config.ttl.sessionIdle).toBe(1800);
    expect(config.sessions.maxPerAccount).toBe(5);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ttl)).toBe(true);
  });

  it('switches to PostgreSQL with DATABASE_URL and then requires a master secret', () => {
    expect(problemsOf({ DATABASE_URL: 'postgres://db/gatehouse' })).toEqual([
      expect.stringMatching(/^GATEHOUSE_SECRET.*required when DATABASE_URL/),
    ]);
    const config = loadConfig({ DATABASE_URL: 'postgres://db/gatehouse', GATEHOUSE_SECRET: 'x'.repeat(32) });
    expect(config.database).toMatchObject({ kind: 'postgres', url: 'postgres://db/gatehouse' });
  });

  it('reports every problem, one line each, naming the variable', () => {
    const problems = problemsOf({ PORT: 'eighty', ISSUER: 'ftp://x', ACCESS_TOKEN_TTL: '0', LOG_LEVEL: 'loud', TRUST_PROXY: 'maybe' });
    expect(problems).toHaveLength(5);
    for (const name of ['PORT', 'ISSUER', 'ACCESS_TOKEN_TTL', 'LOG_LEVEL', 'TRUST_PROXY']) {
      expect(problems.some((problem) => problem.includes(name))).toBe(true);
    }
  });

  it('rejects a key publish delay shorter than the JWKS cache lifetime', () => {
    expect(problemsOf({ KEY_PUBLISH_DELAY: '10', JWKS_CACHE_MAX_AGE: '600' })[0]).toMatch(/KEY_PUBLISH_DELAY/);
  });

  it('SESS-3 refuses to turn the idle timeout or the absolute lifetime off', () => {
    expect(problemsOf({ SESSION_IDLE_TIMEOUT: '0' })[0]).toMatch(/SESSION_IDLE_TIMEOUT/);
    expect(problemsOf({ SESSION_MAX_AGE: '0' }).some((p) => p.includes('SESSION_MAX_AGE'))).toBe(true);
    expect(problemsOf({ SESSION_IDLE_TIMEOUT: '3600', SESSION_MAX_AGE: '60' })[0]).toMatch(/SESSION_MAX_AGE must be at least/);
  });

  it('requires proxy trust for an https issuer (Secure cookies depend on it)', () => {
    expect(problemsOf({ ISSUER: 'https://id.example.com' })[0]).toMatch(/TRUST_PROXY/);
    expect(problemsOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: 'true' })).toEqual([]);
  });

  it('runs one process on the embedded database and one per core on PostgreSQL by default', () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/g', GATEHOUSE_SECRET: 'x'.repeat(32) }).workers).toBeGreaterThanOrEqual(1);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/g', GATEHOUSE_SECRET: 'x'.repeat(32), WORKERS: '2' }).workers).toBe(2);
    expect(problemsOf({ WORKERS: '2' })[0]).toMatch(/WORKERS above 1 needs DATABASE_URL/);
  });

  it('strips a trailing slash from the issuer and rejects a query', () => {
    expect(loadConfig({ ISSUER: 'https://id.example.com/', TRUST_PROXY: 'true' }).issuer).toBe('https://id.example.com');
    expect(problemsOf({ ISSUER: 'https://id.example.com/?x=1', TRUST_PROXY: 'true' })[0]).toMatch(/ISSUER/);
  });

  it('a wrong type does not hide the checks that relate settings: one line per problem', () => {
    const problems = problemsOf({ PORT: 'eighty', DATABASE_URL: 'postgres://db/g', SESSION_IDLE_TIMEOUT: 'soon', SESSION_MAX_AGE: '60' });
    expect(problems).toEqual([
      'PORT must be a number',
      'SESSION_IDLE_TIMEOUT must be a whole number of seconds',
      expect.stringMatching(/^GATEHOUSE_SECRET is required when DATABASE_URL is set/),
    ]);
  });

  it('listens on 127.0.0.1 on the embedded database and on every interface with PostgreSQL, unless HOST is set', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/g', GATEHOUSE_SECRET: 'x'.repeat(32) }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/g', GATEHOUSE_SECRET: 'x'.repeat(32), HOST: '127.0.0.1' }).host).toBe('127.0.0.1');
  });
});

describe('configuration warnings', () => {
  it('names a misspelt setting and the one it probably meant', () => {
    expect(configWarnings({ SESION_IDLE_TIMEOUT: '600', DATABASE_URI: 'postgres://db/g', METRIC_PORT: 'off' })).toEqual([
      'DATABASE_URI is not a Gatehouse setting and is ignored: did you mean DATABASE_URL?',
      'METRIC_PORT is not a Gatehouse setting and is ignored: did you mean METRICS_PORT?',
      'SESION_IDLE_TIMEOUT is not a Gatehouse setting and is ignored: did you mean SESSION_IDLE_TIMEOUT?',
    ]);
  });

  it('flags every unknown GATEHOUSE_ name', () => {
    expect(configWarnings({ GATEHOUSE_COLOUR: 'blue' })).toEqual([expect.stringMatching(/^GATEHOUSE_COLOUR is not a Gatehouse setting/)]);
  });

  it("leaves known settings and other software's variables alone", () => {
    const env = {
      ...{ HOME: '/root', HOSTNAME: 'box', PATH: '/bin', PWD: '/', LANG: 'C', TERM: 'xterm', NODE_OPTIONS: '', PGHOST: 'db', npm_config_cache: '/x' },
      // OpenSSL's and Node's trust-store variables, set on many images; one is close to TLS_CERT_FILE.
      ...{ SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt', SSL_CERT_DIR: '/etc/ssl/certs', NODE_EXTRA_CA_CERTS: '/ca.pem' },
    };
    expect(configWarnings({ ...env, SESSION_IDLE_TIMEOUT: '600', HOST: '0.0.0.0', PORT: '3000', GATEHOUSE_SECRET: 'x'.repeat(32) })).toEqual([]);
  });
});

describe('NET-1 / FLOW-8 transport settings', () => {
  const tls = { TLS_CERT_FILE: '/etc/gatehouse/tls.crt', TLS_KEY_FILE: '/etc/gatehouse/tls.key' };

  it('serves TLS with both files, makes the default issuer https and allows an https issuer without proxy trust', () => {
    const config = loadConfig(tls);
    expect(config.tls).toEqual({ certFile: '/etc/gatehouse/tls.crt', keyFile: '/etc/gatehouse/tls.key', reloadIntervalMs: 10_000 });
    expect(config.issuer).toBe('https://localhost:3000');
    expect(problemsOf({ ...tls, ISSUER: 'https://id.example.com' })).toEqual([]);
    expect(loadConfig({}).tls).toBeUndefined();
  });

  it('refuses half a TLS configuration and an http issuer with TLS on', () => {
    expect(problemsOf({ TLS_CERT_FILE: '/x.crt' })).toEqual([expect.stringMatching(/TLS_CERT_FILE and TLS_KEY_FILE must be set together/)]);
    expect(problemsOf({ ...tls, ISSUER: 'http://id.example.com' })).toEqual([expect.stringMatching(/^ISSUER.*must be an https URL when Gatehouse serves TLS/)]);
  });

  it('puts mutual TLS on its own port, with aliases at the issuer host on that port', () => {
    const config = loadConfig({ ...tls, ISSUER: 'https://id.example.com', MTLS_PORT: '8443', MTLS_CA_FILE: '/etc/gatehouse/clients-ca.crt' });
    expect(config.mtls).toEqual({ port: 8443, caFile: '/etc/gatehouse/clients-ca.crt', reloadIntervalMs: 10_000, url: 'https://id.example.com:8443', forwarded: undefined });
    expect(loadConfig({ ...tls, MTLS_PORT: '8443', MTLS_URL: 'https://mtls.example.com' }).mtls?.url).toBe('https://mtls.example.com');
    expect(problemsOf({ MTLS_PORT: '8443' })[0]).toMatch(/MTLS_PORT needs TLS_CERT_FILE/);
    expect(problemsOf({ ...tls, MTLS_PORT: '3000' })[0]).toMatch(/MTLS_PORT must differ from PORT/);
    expect(problemsOf({ ...tls, MTLS_PORT: '70000' })[0]).toMatch(/MTLS_PORT/);
    expect(problemsOf({ MTLS_CA_FILE: '/ca.crt' })[0]).toMatch(/MTLS_CA_FILE needs MTLS_PORT or CLIENT_CERT_HEADER/);
  });

  it('believes a forwarded client certificate only with a list of trusted proxies', () => {
    const config = loadConfig({ CLIENT_CERT_HEADER: 'X-Forwarded-Client-Cert', TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.7 ,fd00::/8' });
    expect(config.mtls?.forwarded).toEqual({ header: 'x-forwarded-client-cert', trustedProxies: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'] });
    expect(config.mtls?.url).toBeUndefined();
    expect(problemsOf({ CLIENT_CERT_HEADER: 'ssl-client-cert' })[0]).toMatch(/CLIENT_CERT_HEADER needs TRUSTED_PROXIES/);
    expect(problemsOf({ TRUSTED_PROXIES: '10.0.0.1' })[0]).toMatch(/TRUSTED_PROXIES is set but CLIENT_CERT_HEADER is not/);
    for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0.1/8/8', '::1/129']) {
      expect(problemsOf({ CLIENT_CERT_HEADER: 'ssl-client-cert', TRUSTED_PROXIES: bad })[0], bad).toMatch(/TRUSTED_PROXIES must be a comma-separated list/);
    }
  });
});

/** FLOW-11: the registration policy and its settings, as pure functions. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { checkRegistration, type RegistrationPolicy } from '../../src/registration/policy.js';

const policy: RegistrationPolicy = {
  grantTypes: ['authorization_code', 'refresh_token'],
  authMethods: ['client_secret_basic', 'none'],
  scopes: undefined,
  redirectHosts: ['app.example.com', '*.partners.example'],
};
const problemsOf = (body: Record<string, unknown>, engineDefaults: Record<string, unknown> = {}) => {
  const result = checkRegistration(body, 'c1', policy, engineDefaults);
  return result.ok ? [] : result.problems;
};

describe('FLOW-11 registration policy', () => {
  it('stores the request in the operator schema, without server-set fields or cleared ones', () => {
    const result = checkRegistration(
      { redirect_uris: ['https://app.example.com/cb'], client_secret: 'x', client_id_issued_at: 1, client_name: null, logo_uri: '', software_id: 'mcp-agent' },
      'c1',
      policy,
    );
    expect(result).toEqual({
      ok: true,
      metadata: { client_id: 'c1', redirect_uris: ['https://app.example.com/cb'], software_id: 'mcp-agent', grant_types: ['authorization_code'], response_types: ['code'] },
    });
  });

  it('accepts a field the schema does not know only when it repeats the engine default', () => {
    expect(problemsOf({ redirect_uris: ['https://app.example.com/cb'], subject_type: 'public' }, { subject_type: 'public' })).toEqual([]);
    expect(problemsOf({ redirect_uris: ['https://app.example.com/cb'], subject_type: 'pairwise' }, { subject_type: 'public' })).toEqual(['unknown field "subject_type"']);
  });

  it('limits redirect URIs to https on allowed hosts, loopback http, and reversed-domain schemes', () => {
    expect(problemsOf({ redirect_uris: ['https://x.partners.example/cb', 'http://127.0.0.1:4000/cb', 'http://[::1]/cb'] })).toEqual([]);
    expect(problemsOf({ redirect_uris: ['https://partners.example/cb'] })[0]).toMatch(/^redirect_uris: .* not on a host/);
    expect(problemsOf({ redirect_uris: ['http://app.example.com/cb'] })[0]).toMatch(/^redirect_uris\.0: .*plain http on a host that is not loopback: use https/);
    expect(problemsOf({ application_type: 'native', redirect_uris: ['com.example.app:/cb'] })).toEqual([]);
    expect(problemsOf({ application_type: 'native', redirect_uris: ['myapp:/cb'] })[0]).toMatch(/^redirect_uris: .* reversed domain name/);
  });

  it('names each refused field', () => {
    const problems = problemsOf({
      redirect_uris: ['https://app.example.com/cb'],
      token_endpoint_auth_method: 'private_key_jwt',
      scope: 'openid orders:write',
      require_pkce: false,
    });
    expect(problems.map((problem) => problem.split(':')[0])).toEqual(['token_endpoint_auth_method', 'scope', 'require_pkce']);
  });
});

describe('FLOW-11 registration settings', () => {
  it('is off by default, with a conservative policy', () => {
    const { registration } = loadConfig({});
    expect(registration).toMatchObject({ mode: 'off', grantTypes: ['authorization_code', 'refresh_token'], scopes: undefined, redirectHosts: undefined, perHour: 20 });
  });

  it('parses lists and names a bad value', () => {
    const { registration } = loadConfig({ REGISTRATION: 'open', REGISTRATION_SCOPES: 'openid, orders:read', REGISTRATION_REDIRECT_HOSTS: '*.Example.com app.test' });
    expect(registration).toMatchObject({ mode: 'open', scopes: ['openid', 'orders:read'], redirectHosts: ['*.example.com', 'app.test'] });
    expect(() => loadConfig({ REGISTRATION: 'yes' })).toThrow(ConfigError);
    expect(() => loadConfig({ REGISTRATION_GRANT_TYPES: 'authorization_code,implicit' })).toThrow(/REGISTRATION_GRANT_TYPES may only list/);
  });
});

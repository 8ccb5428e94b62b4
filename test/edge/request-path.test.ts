/**
 * The one prefix check that picks the host's or the engine's application must see the path Koa
 * will see; a mismatch would send a host path to the engine (or back) and answer 404.
 */
import { describe, expect, it } from 'vitest';
import { HOST_PATHS } from '../../src/app.js';
import { requestPath } from '../../src/http/request-path.js';

describe('requestPath', () => {
  it('is the request target up to its query', () => {
    expect(requestPath('/token')).toBe('/token');
    expect(requestPath('/account/password?x=1')).toBe('/account/password');
    expect(requestPath('/auth?redirect_uri=/account')).toBe('/auth');
  });

  it('is the path of an absolute-form target, and "/" for none', () => {
    expect(requestPath('http://issuer.example/healthz?full=1')).toBe('/healthz');
    expect(requestPath(undefined)).toBe('/');
  });

  it('keeps what cannot be parsed, so it matches no host prefix', () => {
    expect(requestPath('*')).toBe('*');
    expect(HOST_PATHS.test(requestPath('*'))).toBe(false);
  });

  it('sends a query that mentions a host path to the engine', () => {
    expect(HOST_PATHS.test(requestPath('/auth?next=/account'))).toBe(false);
    expect(HOST_PATHS.test(requestPath('/ACCOUNT/'))).toBe(true);
  });
});

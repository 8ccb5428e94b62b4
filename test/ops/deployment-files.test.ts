/** NET-5: the deployment files publish only the edge; the database is reachable from the application alone. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service {
  ports?: string[];
  networks?: string[];
  environment?: Record<string, string>;
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service>; networks: Record<string, { internal?: boolean } | null> };

describe('NET-5 deployment files', () => {
  it('publishes ports only on the TLS proxy', () => {
    const published = Object.entries(compose.services).filter(([, service]) => service.ports?.length);
    expect(published.map(([name]) => name)).toEqual(['proxy']);
  });

  it('keeps PostgreSQL on an internal network that only Gatehouse joins', () => {
    const database = compose.services['postgres'];
    expect(database?.networks).toEqual(['data']);
    expect(compose.networks['data']?.internal).toBe(true);
    const onData = Object.entries(compose.services).filter(([, service]) => service.networks?.includes('data')).map(([name]) => name);
    expect(onData.sort()).toEqual(['gatehouse-1', 'gatehouse-2', 'postgres']);
  });

  it('runs two replicas behind the proxy with a shared secret and proxy trust', () => {
    for (const name of ['gatehouse-1', 'gatehouse-2']) {
      const service = compose.services[name];
      expect(service?.networks).not.toContain('edge');
      expect(service?.environment?.['TRUST_PROXY']).toBe('true');
      expect(service?.environment?.['GATEHOUSE_SECRET']).toContain('GATEHOUSE_SECRET');
      // The proxy reaches them on the app network: every interface, said explicitly.
      expect(service?.environment?.['HOST']).toBe('0.0.0.0');
    }
    expect(compose.networks['app']?.internal).toBe(true);
  });

  it('listens on every interface inside the container image (only published ports are reachable)', () => {
    expect(readFileSync('Dockerfile', 'utf8')).toMatch(/^ENV HOST=0\.0\.0\.0$/m);
  });
});

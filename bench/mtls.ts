/**
 * The `cc-mtls` scenario's certificates, made at run time with the `openssl` CLI: a CA that
 * Gatehouse trusts (MTLS_CA_FILE) and a client certificate for the bench mTLS client. The load
 * generator plays a trusted proxy that forwards the certificate (CLIENT_CERT_HEADER), so the
 * scenario measures mutual-TLS client authentication and token binding on the same plain-HTTP
 * listener as the other scenarios, not the cost of TLS handshakes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_MTLS_DNS } from './fixtures.js';

export const FORWARDED_CERT_HEADER = 'x-forwarded-client-cert';

export interface BenchCertificates {
  readonly caFile: string;
  /** The header value a proxy would send: Envoy's XFCC with the URL-encoded PEM. */
  readonly forwarded: string;
}

export function createBenchCertificates(dir: string): BenchCertificates {
  const file = (name: string) => path.join(dir, `mtls-${name}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  openssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-subj', '/CN=Bench CA', '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  writeFileSync(file('client.ext'), `basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:${BENCH_MTLS_DNS}\n`);
  openssl(['req', '-new', ...ec, '-keyout', file('client.key'), '-out', file('client.csr'), '-subj', '/CN=bench-mtls']);
  openssl(['x509', '-req', '-in', file('client.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-set_serial', '0x42', '-days', '2',
    '-extfile', file('client.ext'), '-out', file('client.crt')]);
  return { caFile: file('ca.crt'), forwarded: `Cert="${encodeURIComponent(readFileSync(file('client.crt'), 'utf8'))}"` };
}

/**
 * Certificates made by the test at run time with the `openssl` CLI (no key material in git): a
 * small CA, server certificates for 127.0.0.1, client certificates with chosen subjects, SANs
 * and validity, and self-signed client certificates. ECDSA P-256 throughout.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPublicKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
  readonly serialNumber: string;
  /** base64url SHA-256 of the DER certificate: what `cnf.x5t#S256` must hold. */
  readonly thumbprint: string;
}

export interface Authority extends Issued {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface LeafOptions {
  /** OpenSSL form, e.g. `/O=Gatehouse Tests/CN=service`. */
  readonly subject?: string;
  readonly dns?: readonly string[];
  readonly ips?: readonly string[];
  readonly uris?: readonly string[];
  readonly emails?: readonly string[];
  /** Days of validity; -1 makes a certificate that has already expired. */
  readonly days?: number;
  readonly usage?: 'server' | 'client';
}

const work = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-certs-'));
process.once('exit', () => rmSync(work, { recursive: true, force: true }));
let counter = 0;
const scratch = (name: string) => path.join(work, `${(counter += 1)}-${name}`);

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function describe(certPem: string, keyPem: string): Issued {
  const certificate = new X509Certificate(certPem);
  return { certPem, keyPem, serialNumber: certificate.serialNumber, thumbprint: createHash('sha256').update(certificate.raw).digest('base64url') };
}

export function createAuthority(subject = '/CN=Gatehouse Test CA'): Authority {
  const keyFile = scratch('ca.key');
  const certFile = scratch('ca.crt');
  openssl(['req', '-x509', ...EC, '-keyout', keyFile, '-out', certFile, '-subj', subject, '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { ...describe(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8')), certFile, keyFile };
}

export interface IntermediateOptions {
  readonly subject: string;
  /** Days of validity; -1 makes one that has already expired. */
  readonly days?: number;
  /** false: signs like a CA (keyCertSign) but lacks basicConstraints CA:TRUE. */
  readonly ca?: boolean;
  /** basicConstraints pathlen: how many CA certificates may follow it down to a leaf. */
  readonly pathLength?: number;
  /** More extension lines in openssl's extfile form, e.g. `extendedKeyUsage=serverAuth`. */
  readonly extensions?: readonly string[];
}

/** A CA certificate signed by `parent`: a service mesh's intermediate (Istio with a plugged-in CA). */
export function createIntermediate(parent: Authority, options: IntermediateOptions): Authority {
  const keyFile = scratch('intermediate.key');
  const csrFile = scratch('intermediate.csr');
  const certFile = scratch('intermediate.crt');
  const extFile = scratch('intermediate.ext');
  const constraints = options.ca === false ? [] : [`basicConstraints=critical,CA:TRUE${options.pathLength === undefined ? '' : `,pathlen:${options.pathLength}`}`];
  writeFileSync(extFile, [...constraints, 'keyUsage=critical,keyCertSign,cRLSign', ...(options.extensions ?? [])].join('\n'));
  openssl(['req', '-new', ...EC, '-keyout', keyFile, '-out', csrFile, '-subj', options.subject]);
  openssl(['x509', '-req', '-in', csrFile, '-CA', parent.certFile, '-CAkey', parent.keyFile, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', String(options.days ?? 30), '-extfile', extFile, '-out', certFile]);
  return { ...describe(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8')), certFile, keyFile };
}

function extensions(options: LeafOptions): string {
  const names = [
    ...(options.dns ?? []).map((value) => `DNS:${value}`),
    ...(options.ips ?? []).map((value) => `IP:${value}`),
    ...(options.uris ?? []).map((value) => `URI:${value}`),
    ...(options.emails ?? []).map((value) => `email:${value}`),
  ];
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    `extendedKeyUsage=${options.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    ...(names.length ? [`subjectAltName=${names.join(',')}`] : []),
  ].join('\n');
}

export function issueCertificate(authority: Authority, options: LeafOptions = {}): Issued {
  const keyFile = scratch('leaf.key');
  const csrFile = scratch('leaf.csr');
  const certFile = scratch('leaf.crt');
  const extFile = scratch('leaf.ext');
  writeFileSync(extFile, extensions(options));
  openssl(['req', '-new', ...EC, '-keyout', keyFile, '-out', csrFile, '-subj', options.subject ?? '/CN=test']);
  openssl(['x509', '-req', '-in', csrFile, '-CA', authority.certFile, '-CAkey', authority.keyFile, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', String(options.days ?? 7), '-extfile', extFile, '-out', certFile]);
  return describe(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'));
}

/** A server certificate for 127.0.0.1 and localhost. */
export function issueServerCertificate(authority: Authority): Issued {
  return issueCertificate(authority, { subject: '/CN=localhost', dns: ['localhost'], ips: ['127.0.0.1'], usage: 'server' });
}

/** A self-signed client certificate and the public JWK (with x5c) a client registers for it. */
export function selfSignedCertificate(subject = '/CN=self-signed client', days = 7): Issued & { jwk: Record<string, unknown> } {
  const keyFile = scratch('self.key');
  const csrFile = scratch('self.csr');
  const certFile = scratch('self.crt');
  const extFile = scratch('self.ext');
  writeFileSync(extFile, extensions({ usage: 'client' }));
  openssl(['req', '-new', ...EC, '-keyout', keyFile, '-out', csrFile, '-subj', subject]);
  // `x509 -req -signkey` (unlike `req -x509`) accepts -days -1: an already expired certificate.
  openssl(['x509', '-req', '-in', csrFile, '-signkey', keyFile, '-days', String(days), '-extfile', extFile, '-out', certFile]);
  const issued = describe(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'));
  const jwk = createPublicKey(issued.certPem).export({ format: 'jwk' }) as Record<string, unknown>;
  return { ...issued, jwk: { ...jwk, x5c: [new X509Certificate(issued.certPem).raw.toString('base64')] } };
}

/** A scratch directory for PEM files, removed by `dispose`. */
export function certificateDirectory() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-tls-'));
  return {
    dir,
    write(name: string, contents: string): string {
      const file = path.join(dir, name);
      writeFileSync(file, contents, { mode: 0o600 });
      return file;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A throwaway self-signed certificate made at test time with the openssl CLI (never committed). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SelfSigned {
  readonly key: string;
  readonly cert: string;
}

export function selfSignedCertificate(commonName = 'localhost'): SelfSigned {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cert-'));
  try {
    const keyFile = path.join(dir, 'key');
    const certFile = path.join(dir, 'cert');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${commonName}`,
        '-addext', `subjectAltName=DNS:${commonName},DNS:localhost,IP:127.0.0.1`,
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

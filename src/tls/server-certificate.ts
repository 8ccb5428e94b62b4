/**
 * The server's own certificate (NET-1): read from TLS_CERT_FILE / TLS_KEY_FILE, checked before
 * use (readable, PEM, key matches the leaf), and followed (file-reload.ts) so a renewal reaches
 * new handshakes without a restart. A broken or half-written renewal is logged once and the
 * certificate in use stays.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { TlsSettings } from '../config/index.js';
import { followFiles } from './file-reload.js';

export interface ServerCertificate {
  /** The PEM chain as read (leaf first). */
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly serialNumber: string;
  readonly validTo: string;
}

/** A certificate or key that cannot serve: the message is one line an operator can act on. */
export class ServerCertificateError extends Error {}

function read(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ServerCertificateError(`${variable} ${file} cannot be read (${code})`);
  }
}

/** Pure apart from reading the two files: the certificate and key, or a ServerCertificateError. */
export function parseServerCertificate(cert: Buffer, key: Buffer, files: Pick<TlsSettings, 'certFile' | 'keyFile'>): ServerCertificate {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new ServerCertificateError(`TLS_CERT_FILE ${files.certFile} does not hold a PEM certificate`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ServerCertificateError(`TLS_KEY_FILE ${files.keyFile} does not hold an unencrypted PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ServerCertificateError(`TLS_KEY_FILE ${files.keyFile} does not match the certificate in TLS_CERT_FILE ${files.certFile}`);
  }
  return { cert, key, serialNumber: leaf.serialNumber, validTo: leaf.validTo };
}

export function loadServerCertificate(files: Pick<TlsSettings, 'certFile' | 'keyFile'>): ServerCertificate {
  return parseServerCertificate(read(files.certFile, 'TLS_CERT_FILE'), read(files.keyFile, 'TLS_KEY_FILE'), files);
}

/**
 * Re-reads the files every `reloadIntervalMs` and calls `onRenewed` when they hold a different,
 * valid certificate. A key written a moment after its certificate is picked up on the next round.
 */
export function watchServerCertificate(
  settings: TlsSettings,
  initial: ServerCertificate,
  onRenewed: (certificate: ServerCertificate) => void,
  logger: Logger,
): () => void {
  return followFiles(
    {
      files: [settings.certFile, settings.keyFile],
      intervalMs: settings.reloadIntervalMs,
      parse: ([cert, key]) => parseServerCertificate(cert!, key!, settings),
      onRenewed,
      messages: {
        reloaded: 'TLS certificate reloaded',
        unusable: 'TLS certificate files changed but cannot be used; keeping the current certificate',
        unreadable: 'TLS certificate files not readable right now; keeping the current certificate',
      },
      logged: (renewed) => ({ serialNumber: renewed.serialNumber, validTo: renewed.validTo }),
    },
    [initial.cert, initial.key],
    logger,
  );
}

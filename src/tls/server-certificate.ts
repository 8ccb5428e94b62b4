/**
 * The server's own certificate (NET-1): read from TLS_CERT_FILE / TLS_KEY_FILE, checked before
 * use (readable, PEM, key matches the leaf), and re-read on a timer so a renewal by
 * cert-manager or certbot — often a symlink swap, which file watchers miss — reaches new
 * handshakes without a restart. A broken or half-written renewal is logged once and the
 * certificate in use stays.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { TlsSettings } from '../config/index.js';

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
 * valid certificate. Contents that failed are remembered, so a bad renewal is logged once, and a
 * key written a moment after its certificate is picked up on the next round.
 */
export function watchServerCertificate(
  settings: TlsSettings,
  initial: ServerCertificate,
  onRenewed: (certificate: ServerCertificate) => void,
  logger: Logger,
): () => void {
  let seen = Buffer.concat([initial.cert, initial.key]);
  const check = () => {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(settings.certFile);
      key = readFileSync(settings.keyFile);
    } catch (error) {
      // Mid-swap a file can be missing for an instant; the next round will see the new one.
      logger.debug({ err: error }, 'TLS certificate files not readable right now; keeping the current certificate');
      return;
    }
    const contents = Buffer.concat([cert, key]);
    if (contents.equals(seen)) return;
    seen = contents;
    try {
      const renewed = parseServerCertificate(cert, key, settings);
      onRenewed(renewed);
      logger.info({ serialNumber: renewed.serialNumber, validTo: renewed.validTo }, 'TLS certificate reloaded');
    } catch (error) {
      logger.error({ reason: error instanceof Error ? error.message : String(error) }, 'TLS certificate files changed but cannot be used; keeping the current certificate');
    }
  };
  const timer = setInterval(check, settings.reloadIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

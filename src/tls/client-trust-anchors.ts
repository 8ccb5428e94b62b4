/**
 * The trust anchors for `tls_client_auth` (FLOW-8): the CA certificates in MTLS_CA_FILE.
 * Enforces: the bundle is followed like the server certificate (file-reload.ts), so a rotated
 * client CA reaches new mTLS handshakes and the check of forwarded certificates without a
 * restart; a bundle that is unreadable, empty or unparsable is refused at start and, later,
 * logged while the anchors in use stay; the mTLS listener and the forwarded-certificate check
 * share one copy, so they never disagree and a broken file is logged once per process.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { MtlsSettings } from '../config/index.js';
import { PEM_CERTIFICATES } from './certificate-path.js';
import { followFiles } from './file-reload.js';


export interface Anchors {
  /** The file as read: what the mTLS listener's handshakes verify against (`ca`). */
  readonly pem: Buffer;
  readonly certificates: readonly X509Certificate[];
}

/** Pure: the certificates in a bundle, or an Error whose message is one line naming the file. */
export function parseAnchors(pem: Buffer, file: string): Anchors {
  let certificates: X509Certificate[];
  try {
    certificates = (pem.toString('utf8').match(PEM_CERTIFICATES) ?? []).map((block) => new X509Certificate(block));
  } catch {
    throw new Error(`MTLS_CA_FILE ${file} holds a certificate that cannot be parsed`);
  }
  if (!certificates.length) throw new Error(`MTLS_CA_FILE ${file} holds no PEM certificate`);
  try {
    // What the listener will be given: refused here, it cannot break setSecureContext later.
    createSecureContext({ ca: pem });
  } catch {
    throw new Error(`MTLS_CA_FILE ${file} is not accepted as TLS trust anchors`);
  }
  return { pem, certificates };
}

/** The certificates in MTLS_CA_FILE; throws a one-line Error when it is unreadable or holds none. */
export function readAnchors(file: string): X509Certificate[] {
  return [...loadAnchors(file).certificates];
}

function loadAnchors(file: string): Anchors {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    throw new Error(`MTLS_CA_FILE ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  return parseAnchors(pem, file);
}

type CaSettings = Pick<MtlsSettings, 'reloadIntervalMs'> & { readonly caFile: string };

// The listener (src/server.ts) and client authentication (src/services.ts) are built apart from
// the same configuration object; keyed by it, they find the same anchors.
const byConfiguration = new WeakMap<MtlsSettings, ClientTrustAnchors>();

export class ClientTrustAnchors {
  #current: Anchors;
  // One entry per follow() call, so the same callback given twice is also stopped twice.
  readonly #followers = new Set<{ readonly onRenewed: (anchors: Anchors) => void }>();
  #stopFollowing: (() => void) | undefined;

  private constructor(
    private readonly settings: CaSettings,
    private readonly logger: Logger,
  ) {
    this.#current = loadAnchors(settings.caFile);
  }

  /** The one instance for this configuration (MTLS_CA_FILE must be set). */
  static of(settings: MtlsSettings, logger: Logger): ClientTrustAnchors {
    const { caFile } = settings;
    if (!caFile) throw new Error('MTLS_CA_FILE is not set');
    let anchors = byConfiguration.get(settings);
    if (!anchors) {
      anchors = new ClientTrustAnchors({ caFile, reloadIntervalMs: settings.reloadIntervalMs }, logger);
      byConfiguration.set(settings, anchors);
    }
    return anchors;
  }

  get current(): Anchors {
    return this.#current;
  }

  /**
   * Keeps the anchors current while anyone follows (the listeners, for the life of the server);
   * `onRenewed` hears of each change. Returns the function that stops following.
   */
  follow(onRenewed: (anchors: Anchors) => void = () => undefined): () => void {
    const follower = { onRenewed };
    this.#followers.add(follower);
    this.#stopFollowing ??= followFiles(
      {
        files: [this.settings.caFile],
        intervalMs: this.settings.reloadIntervalMs,
        parse: ([pem]) => parseAnchors(pem!, this.settings.caFile),
        onRenewed: (anchors) => {
          this.#current = anchors;
          for (const each of this.#followers) each.onRenewed(anchors);
        },
        messages: {
          reloaded: 'MTLS_CA_FILE reloaded',
          unusable: 'MTLS_CA_FILE changed but cannot be used; keeping the current client trust anchors',
          unreadable: 'MTLS_CA_FILE not readable right now; keeping the current client trust anchors',
        },
        logged: (anchors) => ({ file: this.settings.caFile, certificates: anchors.certificates.length }),
      },
      [this.#current.pem],
      this.logger,
    );
    return () => {
      this.#followers.delete(follower);
      if (this.#followers.size === 0) {
        this.#stopFollowing?.();
        this.#stopFollowing = undefined;
      }
    };
  }
}

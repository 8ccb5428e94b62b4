/**
 * Whether a forwarded client certificate leads to MTLS_CA_FILE (FLOW-8), checked here because a
 * forwarded certificate never passed our own handshake. Enforces, for every link of the path:
 * the issuer's name and key identifiers match (checkIssued, which also wants keyCertSign when the
 * issuer has a key usage), the signature verifies with the issuer's key, the issuer is a CA
 * (basicConstraints cA) within its validity, its pathLenConstraint holds, and its extended key
 * usage, if any, allows client authentication; the leaf's extended key usage allows it too. The
 * path ends at any CA certificate in the bundle, root or intermediate, on the mTLS listener too
 * (client-certificates.ts completes OpenSSL's verdict there); it runs through at most MAX_INTERMEDIATES offered
 * certificates, and offered certificates are never trusted for being offered. A certificate in
 * the path with a critical extension not checked here (name or policy constraints) fails the
 * path: refusing is safe where evaluating it half would not be.
 */
import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';

/** Every PEM certificate block in a text (a bundle, a forwarded chain). */
export const PEM_CERTIFICATES = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Offered CA certificates between the leaf and the bundle: Istio and most PKIs need one or two. */
export const MAX_INTERMEDIATES = 4;

// Extended key usages (RFC 5280 4.2.1.12): TLS client authentication, and "any".
const CLIENT_AUTH_USAGE = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_USAGE = '2.5.29.37.0';

// Extensions whose meaning is checked here or by OpenSSL's checkIssued.
const HANDLED_EXTENSIONS = new Set([
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_extKeyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
]);

interface Extensions {
  readonly unhandledCritical: boolean;
  readonly pathLength: number | undefined;
}

/** The two facts Node's X509Certificate does not expose: pathLenConstraint, and critical extensions. */
function readExtensions(certificate: X509Certificate): Extensions {
  const extensions = AsnConvert.parse(certificate.raw, Certificate).tbsCertificate.extensions ?? [];
  let unhandledCritical = false;
  let pathLength: number | undefined;
  for (const extension of extensions) {
    if (extension.critical && !HANDLED_EXTENSIONS.has(extension.extnID)) unhandledCritical = true;
    if (extension.extnID === id_ce_basicConstraints) pathLength = AsnConvert.parse(extension.extnValue, BasicConstraints).pathLenConstraint;
  }
  return { unhandledCritical, pathLength };
}

const parsed = new WeakMap<X509Certificate, Extensions | null>();

/** null: the certificate's DER is not what it should be, so it takes part in no path. */
function extensionsOf(certificate: X509Certificate): Extensions | null {
  let extensions = parsed.get(certificate);
  if (extensions === undefined) {
    try {
      extensions = readExtensions(certificate);
    } catch {
      extensions = null;
    }
    parsed.set(certificate, extensions);
  }
  return extensions;
}

function allowsClientAuth(certificate: X509Certificate): boolean {
  const usages = certificate.keyUsage; // Node names the extended key usages so
  return !usages || usages.includes(CLIENT_AUTH_USAGE) || usages.includes(ANY_EXTENDED_USAGE);
}

export function isCurrent(certificate: X509Certificate, now = Date.now()): boolean {
  return Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
}

/** `issuer` may sign `subject` with `casBelow` CA certificates between it and the leaf. */
function issues(issuer: X509Certificate, subject: X509Certificate, casBelow: number, now: number): boolean {
  const extensions = extensionsOf(issuer);
  if (!extensions || extensions.unhandledCritical || !issuer.ca || !isCurrent(issuer, now) || !allowsClientAuth(issuer)) return false;
  if (extensions.pathLength !== undefined && casBelow > extensions.pathLength) return false;
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/**
 * The leaf reaches a CA certificate in `anchors` through at most MAX_INTERMEDIATES of `offered`.
 * The leaf's own validity is not judged here: the caller reports it apart (an expired client
 * certificate is a louder failure than an untrusted one).
 */
export function chainsToAnchor(leaf: X509Certificate, offered: readonly X509Certificate[], anchors: readonly X509Certificate[], now = Date.now()): boolean {
  const extensions = extensionsOf(leaf);
  if (!extensions || extensions.unhandledCritical || !allowsClientAuth(leaf)) return false;
  const extend = (subject: X509Certificate, above: readonly X509Certificate[]): boolean => {
    if (anchors.some((anchor) => issues(anchor, subject, above.length, now))) return true;
    if (above.length >= MAX_INTERMEDIATES) return false;
    return offered.some(
      (candidate) => candidate !== leaf && !above.includes(candidate) && issues(candidate, subject, above.length, now) && extend(candidate, [...above, candidate]),
    );
  };
  return extend(leaf, []);
}

/** FLOW-8: reading forwarded certificates, trusting proxies, and RFC 8705 subject matching. */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateSubjectMatches, distinguishedNamesEqual } from '../../src/tls/client-certificates.js';
import { TrustedProxies, forwardedCertificatePem } from '../../src/tls/forwarded-certificate.js';
import { createAuthority, issueCertificate } from '../support/certificates.js';

const authority = createAuthority();
const leaf = issueCertificate(authority, {
  subject: '/C=DE/O=Example, Inc./CN=svc',
  dns: ['svc.internal'],
  ips: ['10.1.2.3', '2001:db8::7'],
  uris: ['spiffe://cluster.local/ns/a/sa/svc'],
  emails: ['svc@example.com'],
});
const other = issueCertificate(authority, { subject: '/CN=other' });
const parsed = (pem: string | undefined) => (pem ? new X509Certificate(pem).serialNumber : undefined);

describe('forwarded client certificate headers', () => {
  it("reads Envoy/Istio's XFCC, and refuses a header that names more than one certificate", () => {
    const element = (pem: string) => `By=spiffe://cluster.local/ns/id/sa/gatehouse;Hash=1f;Cert="${encodeURIComponent(pem)}";Subject="O=Example, Inc.,CN=x";URI=spiffe://a`;
    expect(parsed(forwardedCertificatePem(element(leaf.certPem)))).toBe(leaf.serialNumber);
    // Appended hops are ambiguous: which one checked the client? The proxy must set, not append.
    expect(forwardedCertificatePem(`${element(other.certPem)},${element(leaf.certPem)}`)).toBeUndefined();
    // Envoy writes URI SANs unquoted: a SAN carrying `,Cert="…"` must not smuggle in another certificate.
    const smuggled = `Hash=1f;Cert="${encodeURIComponent(other.certPem)}";URI=spiffe://x,Cert="${encodeURIComponent(leaf.certPem)}"`;
    expect(forwardedCertificatePem(smuggled)).toBeUndefined();
  });

  it("reads nginx's URL-encoded PEM and the older tab-folded form, and refuses two PEMs (an appended header)", () => {
    expect(parsed(forwardedCertificatePem(encodeURIComponent(leaf.certPem)))).toBe(leaf.serialNumber);
    expect(parsed(forwardedCertificatePem(leaf.certPem.trim().replace(/\n/g, '\n\t')))).toBe(leaf.serialNumber);
    expect(forwardedCertificatePem(`${encodeURIComponent(other.certPem)}, ${encodeURIComponent(leaf.certPem)}`)).toBeUndefined();
  });

  it('finds no certificate in anything else', () => {
    for (const value of [undefined, '', 'Hash=abc;Subject="CN=x"', '%E0%A4%A', 'Cert="not a pem"', ['a', 'b'], 'x'.repeat(40_000)]) {
      expect(forwardedCertificatePem(value as string | undefined)).toBeUndefined();
    }
  });
});

describe('TRUSTED_PROXIES', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);

  it('matches addresses and ranges, including IPv4 peers seen on a dual-stack socket', () => {
    expect(proxies.has('10.200.3.4')).toBe(true);
    expect(proxies.has('::ffff:10.200.3.4')).toBe(true);
    expect(proxies.has('192.168.1.7')).toBe(true);
    expect(proxies.has('fd12::1')).toBe(true);
    expect(proxies.has('192.168.1.8')).toBe(false);
    expect(proxies.has('11.0.0.1')).toBe(false);
    expect(proxies.has('fe80::1')).toBe(false);
    expect(proxies.has(undefined)).toBe(false);
  });
});

describe('RFC 8705 subject matching', () => {
  const certificate = new X509Certificate(leaf.certPem);

  it('compares a subject DN in RFC 4514 order (or certificate order), with escaped commas', () => {
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_subject_dn', 'CN=svc,O=Example\\, Inc.,C=DE')).toBe(true);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_subject_dn', 'C=DE,O=Example\\, Inc.,CN=svc')).toBe(true);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_subject_dn', 'CN=svc,O=Example\\, Inc.')).toBe(false);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_subject_dn', 'CN=svc2,O=Example\\, Inc.,C=DE')).toBe(false);
    expect(distinguishedNamesEqual('CN=a', 'cn=a')).toBe(true);
  });

  it('keeps a multi-valued RDN together: CN=svc+OU=ops is one RDN, not two', () => {
    // Node's form of a subject O=Example / (CN=svc + OU=ops), as X509Certificate prints it.
    const subject = 'O=Example\nCN=svc + OU=ops';
    expect(distinguishedNamesEqual(subject, 'CN=svc+OU=ops,O=Example')).toBe(true);
    expect(distinguishedNamesEqual(subject, 'OU=ops+CN=svc,O=Example')).toBe(true);
    expect(distinguishedNamesEqual(subject, 'OU=ops,CN=svc,O=Example')).toBe(false);
    expect(distinguishedNamesEqual('O=Example\nOU=ops\nCN=svc', 'CN=svc+OU=ops,O=Example')).toBe(false);
  });

  it('matches one SAN of the registered kind only', () => {
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_dns', 'SVC.internal')).toBe(true);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_dns', 'svc.internal.evil')).toBe(false);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_uri', 'spiffe://cluster.local/ns/a/sa/svc')).toBe(true);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_uri', 'spiffe://cluster.local/ns/a/sa/sv')).toBe(false);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_ip', '10.1.2.3')).toBe(true);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_ip', '2001:0db8:0:0:0:0:0:7')).toBe(true);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_ip', '10.1.2.4')).toBe(false);
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_email', 'svc@example.com')).toBe(true);
    // A DNS name registered as an e-mail SAN (or the other way round) does not match.
    expect(certificateSubjectMatches(certificate, 'tls_client_auth_san_email', 'svc.internal')).toBe(false);
  });
});

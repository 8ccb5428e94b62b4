/** FLOW-8: the path from a forwarded client certificate to MTLS_CA_FILE, and the chains XFCC carries. */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_INTERMEDIATES, chainsToAnchor } from '../../src/tls/certificate-path.js';
import { forwardedCertificates } from '../../src/tls/forwarded-certificate.js';
import { createAuthority, createIntermediate, issueCertificate, type Authority, type Issued } from '../support/certificates.js';

const root = createAuthority('/CN=Path Root');
const x509 = (issued: Issued) => new X509Certificate(issued.certPem);

/** root → `count` intermediates, each signed by the one before; the last is first in the list. */
function ladder(count: number, top: Authority = root): Authority[] {
  const rungs: Authority[] = [];
  for (let i = 0; i < count; i += 1) rungs.unshift(createIntermediate(rungs[0] ?? top, { subject: `/CN=Rung ${i}` }));
  return rungs;
}

const longest = ladder(MAX_INTERMEDIATES + 1);

describe('a forwarded certificate path to MTLS_CA_FILE', () => {
  it(`runs through at most ${MAX_INTERMEDIATES} offered intermediates`, () => {
    const withinBound = longest.slice(1);
    expect(chainsToAnchor(x509(issueCertificate(withinBound[0]!)), withinBound.map(x509), [x509(root)])).toBe(true);
    expect(chainsToAnchor(x509(issueCertificate(longest[0]!)), longest.map(x509), [x509(root)])).toBe(false);
  });

  it('ends at an intermediate in the bundle, but never trusts an offered certificate for being offered', () => {
    const [intermediate] = ladder(1);
    const leaf = x509(issueCertificate(intermediate!));
    expect(chainsToAnchor(leaf, [], [x509(intermediate!)])).toBe(true);
    expect(chainsToAnchor(leaf, [x509(intermediate!), x509(root)], [x509(createAuthority('/CN=Elsewhere'))])).toBe(false);
  });

  it('refuses an intermediate whose extended key usage excludes client authentication', () => {
    const serversOnly = createIntermediate(root, { subject: '/CN=Servers Only', extensions: ['extendedKeyUsage=serverAuth'] });
    expect(chainsToAnchor(x509(issueCertificate(serversOnly)), [x509(serversOnly)], [x509(root)])).toBe(false);
  });

  it('refuses a critical extension it does not evaluate (name constraints) rather than ignore it', () => {
    const constrained = createIntermediate(root, { subject: '/CN=Constrained', extensions: ['nameConstraints=critical,permitted;DNS:.internal'] });
    const leaf = x509(issueCertificate(constrained, { dns: ['svc.internal'] }));
    expect(chainsToAnchor(leaf, [x509(constrained)], [x509(root)])).toBe(false);
  });
});

describe("XFCC's Chain", () => {
  const [intermediate] = ladder(1);
  const leaf = issueCertificate(intermediate!);
  const encoded = (...certs: Issued[]) => encodeURIComponent(certs.map((cert) => cert.certPem).join(''));
  const serials = (pems: readonly string[] | undefined) => pems?.map((pem) => new X509Certificate(pem).serialNumber);

  it('gives the leaf and the intermediates offered with it, with or without Cert=', () => {
    for (const header of [`Cert="${encoded(leaf)}";Chain="${encoded(leaf, intermediate!)}"`, `Hash=1f;Chain="${encoded(leaf, intermediate!)}";URI=spiffe://a`]) {
      const forwarded = forwardedCertificates(header);
      expect(serials([forwarded!.leaf])).toEqual([leaf.serialNumber]);
      expect(serials(forwarded!.intermediates)).toEqual([intermediate!.serialNumber]);
    }
  });

  it('refuses two chains, a chain longer than a path may be, and a Chain= that does not start with Cert=', () => {
    expect(forwardedCertificates(`Chain="${encoded(leaf)}";URI=x,Chain="${encoded(leaf, intermediate!)}"`)).toBeUndefined();
    expect(forwardedCertificates(`Chain="${encoded(leaf, ...longest, root)}"`)).toBeUndefined();
    expect(forwardedCertificates(`Cert="${encoded(leaf)}";Chain="${encoded(intermediate!, leaf)}"`)).toBeUndefined();
  });
});

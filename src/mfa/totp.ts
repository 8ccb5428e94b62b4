/**
 * RFC 6238 one-time codes through otplib (MFA-2): 160-bit secrets, six digits, 30-second steps,
 * one step of clock drift either way. Enforces: only a code for a time step after the last one
 * accepted is valid (the caller stores that step; RFC 6238 5.2), and a malformed code is simply
 * wrong, never an exception.
 */
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';

const PERIOD_SECONDS = 30;
const DRIFT_SECONDS = PERIOD_SECONDS;

export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The `otpauth://` URI an authenticator app scans. */
export function otpauthUri(issuer: string, accountName: string, secret: string): string {
  return generateURI({ issuer: new URL(issuer).host, label: accountName, secret, period: PERIOD_SECONDS });
}

/** The code's time step if it is valid now and after `afterStep`; undefined otherwise. */
export async function acceptedTimeStep(secret: string, code: string, afterStep: number | undefined): Promise<number | undefined> {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return undefined;
  try {
    const result = await verify({
      secret,
      token,
      period: PERIOD_SECONDS,
      epochTolerance: DRIFT_SECONDS,
      ...(afterStep === undefined ? {} : { afterTimeStep: afterStep }),
    });
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The QR code as a PNG `data:` URL for an `<img>`: rendered on the server, so the page needs no
 * script, and the CSP's `img-src 'self' data:` allows it.
 */
export function qrCodeImage(uri: string): Promise<string> {
  return QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, scale: 5 });
}

/** The secret in groups of four, for typing into an app that cannot scan. */
export function groupedSecret(secret: string): string {
  return secret.replace(/(.{4})/g, '$1 ').trim();
}

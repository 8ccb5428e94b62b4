/** Sessions in human terms (SESS-9): a browser and system name, and a network hint that is not a full address. */
import Bowser from 'bowser';

export function describeDevice(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown device';
  const parsed = Bowser.parse(userAgent);
  const browser = [parsed.browser.name, parsed.browser.version?.split('.')[0]].filter(Boolean).join(' ');
  const system = [parsed.os.name, parsed.os.versionName ?? parsed.os.version].filter(Boolean).join(' ');
  if (!browser && !system) return 'Unknown device';
  return system ? `${browser || 'Unknown browser'} on ${system}` : browser;
}

/** 203.0.113.42 → 203.0.113.x; 2001:db8:1:2:… → 2001:db8:1:…; enough to recognise, not to locate. */
export function maskIp(ip: string | undefined): string {
  if (!ip) return 'unknown network';
  const address = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) return `${address.split('.').slice(0, 3).join('.')}.x`;
  if (address.includes(':')) return `${address.split(':').slice(0, 3).join(':')}:…`;
  return 'unknown network';
}

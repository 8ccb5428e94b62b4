/**
 * Warnings for settings Gatehouse does not know: a misspelt variable (SESION_IDLE_TIMEOUT) is
 * otherwise silently ignored and its default applies. Enforces: every `GATEHOUSE_*` name must be
 * known; any other upper-case name close to a known one gets "did you mean". Names of other
 * software (PATH, HOME, HOSTNAME, NODE_OPTIONS…) are too far from every setting to be flagged.
 */

// Set by Gatehouse itself, not by operators.
const INTERNAL = new Set(['GATEHOUSE_WORKER']);

// Other software's variables that happen to sit close to a setting (OpenSSL's trust store is
// SSL_CERT_FILE, two edits from TLS_CERT_FILE) and are set on many hosts and images.
const OTHER_SOFTWARE = new Set(['SSL_CERT_FILE', 'SSL_CERT_DIR', 'NIX_SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS', 'PGPORT', 'PGHOST']);

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const previous = d[i - 1] as number[];
      row[j] = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

function closest(name: string, known: readonly string[]): string | undefined {
  // Short names tolerate one slip (DATABASE_URI), long ones a few (SESION_IDLE_TIMOUT); HOME is
  // two away from HOST and must not be flagged.
  const tolerance = Math.max(1, Math.floor(name.length / 6));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance <= tolerance && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

/** One line per unknown setting, naming the known one it probably meant. */
export function unknownSettingWarnings(env: Record<string, string | undefined>, known: readonly string[]): string[] {
  const knownSet = new Set(known);
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (knownSet.has(name) || INTERNAL.has(name) || OTHER_SOFTWARE.has(name) || !/^[A-Z][A-Z0-9_]*$/.test(name)) continue;
    const suggestion = closest(name, known);
    if (suggestion) warnings.push(`${name} is not a Gatehouse setting and is ignored: did you mean ${suggestion}?`);
    else if (name.startsWith('GATEHOUSE_')) warnings.push(`${name} is not a Gatehouse setting and is ignored (see the configuration table in the README)`);
  }
  return warnings;
}

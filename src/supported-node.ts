/**
 * The Node.js releases Gatehouse runs on: those oidc-provider 9 supports (it warns on anything
 * but an LTS line from 22 on; `require(esm)` without a flag needs 22.12) and the tests run on.
 * Kept free of imports so the entry points can check before loading anything else.
 */
export const SUPPORTED_NODE_RANGE = '^22.12.0 || ^24.0.0';

/** A one-line refusal for an unsupported version, or undefined. */
export function unsupportedNodeProblem(version: string): string | undefined {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map((part) => Number.parseInt(part, 10));
  const supported = (major === 22 && minor >= 12) || major === 24;
  if (supported) return undefined;
  return `Node.js ${version.replace(/^v?/, 'v')} is not supported: Gatehouse needs Node.js 24 LTS (or 22.12+ LTS); install it and run again`;
}

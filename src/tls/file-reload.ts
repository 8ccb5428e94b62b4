/**
 * Follows PEM files an operator rotates in place (NET-1, FLOW-8): the server certificate and key,
 * the client CA bundle. Enforces: the files are re-read on a timer, because a renewal by
 * cert-manager or certbot is often a symlink swap, which file watchers miss; new contents are
 * used only once they parse; contents that failed are remembered, so a broken renewal is logged
 * once (its reason, never the contents) and what is in use stays; a file missing for an instant
 * mid-swap is not a failure.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

export interface ReloadedFiles<T> {
  readonly files: readonly string[];
  readonly intervalMs: number;
  /** The contents of `files`, in order → the value to use; throws an Error whose message is one line. */
  parse(contents: readonly Buffer[]): T;
  onRenewed(value: T): void;
  /** What the log lines say; `logged` gives the fields of the success line (no key or certificate content). */
  readonly messages: { readonly reloaded: string; readonly unusable: string; readonly unreadable: string };
  logged(value: T): Record<string, unknown>;
}

/** Starts following; `initial` is the contents already in use. Returns the stop function. */
export function followFiles<T>(reloaded: ReloadedFiles<T>, initial: readonly Buffer[], logger: Logger): () => void {
  let seen = Buffer.concat(initial);
  const check = () => {
    let contents: Buffer[];
    try {
      contents = reloaded.files.map((file) => readFileSync(file));
    } catch (error) {
      // Mid-swap a file can be missing for an instant; the next round will see the new one.
      logger.debug({ err: error }, reloaded.messages.unreadable);
      return;
    }
    const joined = Buffer.concat(contents);
    if (joined.equals(seen)) return;
    seen = joined;
    try {
      const value = reloaded.parse(contents);
      reloaded.onRenewed(value);
      logger.info(reloaded.logged(value), reloaded.messages.reloaded);
    } catch (error) {
      logger.error({ reason: error instanceof Error ? error.message : String(error) }, reloaded.messages.unusable);
    }
  };
  const timer = setInterval(check, reloaded.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Node flags a serving process runs with. V8 sizes the young generation from the machine's
 * memory (64 MiB semi-spaces here), and a busy token endpoint fills it between scavenges: the
 * process holds ~130 MiB of young garbage at peak. Measured under load (one worker): default
 * 330-355 MiB peak RSS; 16 MiB semi-spaces 275 MiB for 2-5 % less throughput; 8 MiB 250 MiB
 * for 3-10 % less (more frequent scavenges). 16 is the trade.
 * Heap sizes can only be set at process start: `npm start`, the Dockerfile and cluster workers
 * pass these; an operator's own setting of the same flag wins.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/** `execArgv` plus every server flag the operator did not set themselves. */
export function withServerFlags(execArgv: readonly string[]): string[] {
  const named = (flag: string) => flag.split('=')[0] ?? flag;
  const present = new Set(execArgv.map(named));
  return [...execArgv, ...SERVER_NODE_FLAGS.filter((flag) => !present.has(named(flag)))];
}

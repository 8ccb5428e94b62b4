/**
 * Imported first by every entry point (server, CLI): on an unsupported Node.js the process stops
 * here with one line, before the engine or the database is loaded.
 */
import { unsupportedNodeProblem } from './supported-node.js';

const problem = unsupportedNodeProblem(process.versions.node);
if (problem) {
  process.stderr.write(`gatehouse: ${problem}\n`);
  process.exit(1);
}

import { steadyYoungGeneration } from '../util/gc.js';
import { main } from './main.js';

steadyYoungGeneration();
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // main() has let go of its Ctrl-C handler, but the process may still be draining its last handles: a late
  // Ctrl-C (the second of two) then quits at once with the code already decided, not killed by the signal.
  const quit = () => process.exit(code);
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
});

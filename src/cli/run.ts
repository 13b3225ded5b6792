import { steadyYoungGeneration } from '../util/gc.js';
import { main } from './main.js';
import { dropOutputOnClosedPipe, endsAtOnce, flushed } from './out.js';

steadyYoungGeneration();
dropOutputOnClosedPipe();

// A Ctrl-C that lands after main() let go of its own handler, while the process drains its last handles, quits
// at once with the code already decided, not killed by the signal. This handler is installed before main() runs
// and stays: removing the last SIGINT listener restores the default action (death by the signal), so a listener
// added only after main() returned left a window in which the second of two Ctrl-Cs killed node (exit status
// null instead of 130; test/interrupt.test.ts under load). While main() runs, its own handler does the work.
let decided: number | undefined;
const late = () => {
  if (decided !== undefined) process.exit(decided);
};
process.on('SIGINT', late);
process.on('SIGTERM', late);
void main(process.argv.slice(2)).then(async (code) => {
  process.exitCode = code;
  decided = code;
  // A verb that is done once its output is out (verify) ends here, its output flushed first (test/verify-exit.test.ts).
  if (endsAtOnce()) {
    await flushed();
    process.exit(code);
  }
});

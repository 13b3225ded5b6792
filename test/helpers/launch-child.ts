// A process that starts a job through the shared shell and then waits to be killed: the job writes into a FIFO
// nobody reads (it blocks on a full pipe). Argument: the file the job reads (its path names the test).
import { launch } from '../../src/util/launcher.js';

const job = await launch(['/bin/cat'], { path: process.argv[2]!, offset: 0 });
process.stdout.write(job ? 'ready\n' : 'no launcher\n');
setInterval(() => undefined, 1000);

#!/usr/bin/env node
// Entry of `npm create snapengage-pipeline`; everything testable lives in main.ts.
import { main } from './main.js';

/** Set when stdout failed other than by its reader leaving: the run then ends 1, not 0. */
let outputFailed = false;

// A reader that stops early (`| head -1`) closes the pipe; what is left to print has nowhere to go, which is not an
// error of the scaffolder. A failure of the output itself (`> out.txt` on a full disk) is: one line on stderr and
// exit 1, where the error thrown from here ended the process with Node's stack trace, wherever main() was (the files
// written or not). Said once: a file's stream (Node's SyncWriteStream) is not destroyed by a failed write, so each
// write in a later tick (the next steps after an install) failed anew and repeated the line. stderr failing has no
// one to tell.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED' || outputFailed) return;
  outputFailed = true;
  // The failed write's error comes a tick after it, so often after main() has set the exit code: set here too.
  if (!process.exitCode) process.exitCode = 1;
  const message = error.message.split('\n')[0];
  // Free space is the fix for a full disk only (EIO from a terminal that went away, EACCES, … are not that).
  const fix = error.code === 'ENOSPC' || error.code === 'EDQUOT' ? 'free space where it goes or redirect it elsewhere' : 'redirect it elsewhere';
  process.stderr.write(`error cannot write to standard output (${message}): ${fix}\n`);
});
process.stderr.on('error', () => undefined);

const code = await main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
// A failure's own code stays (2 a usage error, 130 an interrupted install); a success whose output was lost is 1.
process.exitCode = code !== 0 ? code : outputFailed ? 1 : 0;

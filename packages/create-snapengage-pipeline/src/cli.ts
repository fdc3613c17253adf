#!/usr/bin/env node
// Entry of `npm create snapengage-pipeline`; everything testable lives in main.ts.
import { main } from './main.js';

// A reader that stops early (`| head -1`) closes the pipe; what is left to print has nowhere to go, which is not an
// error of the scaffolder. Any other stream error still surfaces.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  });
}

process.exitCode = await main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});

#!/usr/bin/env node
// Entry of `npm create snapengage-pipeline`; everything testable lives in main.ts.
import { main } from './main.js';

process.exitCode = await main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});

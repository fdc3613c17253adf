#!/usr/bin/env node
// snapengage-pipeline's entry: SIGINT and SIGTERM are caught before the command's modules load (cli-signals.ts), so
// that a signal at any moment ends in the outcome line (and `run --json`'s document) with its exit code.
import { installCliSignals } from './cli-signals.js';
import { refuseUnsupportedNode } from './node-version.js';

const signals = installCliSignals();
// Before the command's modules: on an older Node they fail to link, with Node's stack trace (node-version.ts). Refused,
// nothing is left to run, and the process ends once stdout and stderr have taken the line (and document).
if (!refuseUnsupportedNode(process.argv.slice(2))) {
  const { runCli } = await import('./cli-main.js');
  // One turn of the event loop before the command starts, so a signal that came while the modules loaded reaches the
  // handlers first. Node 22.x and 24 block the main thread while a host's module.register hooks (an APM's --import)
  // load a module, so such a signal waited until after the import, and a command that releases the handlers at once
  // (show, --help) dropped it and went on as if no one had asked it to stop (run-document.test.ts, Node 24).
  await new Promise((resolve) => setImmediate(resolve));
  runCli(process.argv.slice(2), signals);
}

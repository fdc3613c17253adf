#!/usr/bin/env node
// snapengage-pipeline's entry: SIGINT and SIGTERM are caught before the command's modules load (cli-signals.ts), so
// that a signal at any moment ends in the outcome line (and `run --json`'s document) with its exit code.
import { installCliSignals } from './cli-signals.js';

const signals = installCliSignals();
const { runCli } = await import('./cli-main.js');
runCli(process.argv.slice(2), signals);

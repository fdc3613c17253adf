#!/usr/bin/env node
// The command's launcher. It is committed (dist/ is not): npm links a package's commands before the repo's
// `prepare` script builds dist/, and skips a command whose file does not exist yet, so a fresh clone had none.
import '../dist/cli.js';

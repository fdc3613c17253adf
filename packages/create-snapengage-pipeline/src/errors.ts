// Error classes in a module with no dependencies, so the CLI can tell error kinds apart without loading ts-morph.

/** A problem the user fixes (bad name, path, flag, file shape): printed as one line, exit code 2. */
export class UserError extends Error {}

export class CancelledError extends Error {
  constructor() {
    super('cancelled; nothing was written');
  }
}

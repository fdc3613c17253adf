// Error classes in a module with no dependencies, so the CLI can tell error kinds apart without loading ts-morph.

/** A problem the user fixes (bad name, path, flag, file shape): printed as one line, exit code 2. */
export class UserError extends Error {}

export class CancelledError extends Error {
  constructor() {
    super('cancelled; nothing was written');
  }
}

/** Standard input ended while a question was open (`</dev/null`, `echo |`): nobody can answer, so it is a cancel. */
export class InputEndedError extends Error {
  constructor() {
    super('input ended before every question was answered; nothing was written. Pass the answers as flags (see --help) or --yes for the defaults');
  }
}

/** A file-system failure's reason in words (`permission denied`, …), or Node's message for the rest. */
export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOSPC') return 'no space left on the device';
  return (error as Error).message;
}

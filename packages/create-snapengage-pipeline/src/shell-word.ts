// Commands shown to type: the next steps (their `cd`, one per line), the finishing commands of an error, and the `--add`
// command a project's README names.
import { posix, win32 } from 'node:path';

/**
 * `path` as one word of the user's shell. POSIX: quoted in single quotes when it needs to be. Windows: with forward
 * slashes, which node, PowerShell, cmd and Git Bash all read (a backslash is an escape in Git Bash), and in double
 * quotes when it needs to be (cmd has no single quotes: `node 'C:\…'` looked for a file named `'C:\…'`).
 */
export function shellWord(path: string, platform: NodeJS.Platform = process.platform): string {
  if (platform !== 'win32') return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
  const slashed = path.replaceAll('\\', '/');
  // No comma, and no @ first: PowerShell reads `a,b` as an array and `@name` as a splatted variable.
  if (/^[\w+=:./-][\w@+=:./-]*$/.test(slashed)) return slashed;
  // PowerShell and Git Bash expand `$` and a backtick inside double quotes (cmd has neither, nor a quote that stops them).
  return /[$`]/.test(slashed) ? `'${slashed.replaceAll("'", "''")}'` : `"${slashed}"`;
}

/**
 * `name` as one word of a crontab line's command: POSIX-quoted, and `%` escaped, which cron turns into a line break
 * (quotes or not) before the shell sees it.
 */
export function crontabWord(name: string): string {
  return shellWord(name, 'linux').replaceAll('%', '\\%');
}

/**
 * The `cd` of the next steps from `cwd` into the project at `target`, or null when that is `cwd` itself. A path with a
 * leading dash gets `./`: `cd -dash` is an invalid option to sh, bash and PowerShell, and quotes do not change that.
 */
export function cdStep(cwd: string, target: string, platform: NodeJS.Platform = process.platform): string | null {
  const relative = (platform === 'win32' ? win32 : posix).relative(cwd, target);
  if (relative === '') return null;
  return `cd ${shellWord(relative.startsWith('-') ? `./${relative}` : relative, platform)}`;
}

/** A line of the next steps: a command to type, and what to do once it ran (`note`); or only a note; or nothing (null). */
export interface NextStep {
  command?: string | null;
  note?: string;
}

/**
 * The next steps as lines, each runnable as typed. Windows: cmd has no `cp` (`copyStep`) and reads `#` as text, so a
 * note goes on a line of its own (a comment to PowerShell and Git Bash) rather than after its command.
 */
export function nextStepLines(steps: readonly NextStep[], platform: NodeJS.Platform = process.platform): string[] {
  return steps.flatMap(({ command, note }) => {
    if (command === undefined || command === null) return note === undefined ? [] : [`# ${note}`];
    if (note === undefined) return [command];
    return platform === 'win32' ? [command, `# ${note}`] : [`${command}   # ${note}`];
  });
}

/** The command that copies the file `from` to `to` (names with nothing to quote): cmd has no `cp`; PowerShell has both. */
export function copyStep(from: string, to: string, platform: NodeJS.Platform = process.platform): string {
  return `${platform === 'win32' ? 'copy' : 'cp'} ${from} ${to}`;
}

/**
 * Commands to run one after the other, as a hint inside a message: `` `a && b` ``. Windows: `` `a`, then `b` ``, since
 * Windows PowerShell 5.1 (the default shell of Windows 10 and 11) rejects `&&`, and its `;` is no separator to cmd.
 */
export function commandsInOrder(commands: readonly string[], platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? commands.map((c) => `\`${c}\``).join(', then ') : `\`${commands.join(' && ')}\``;
}

// A path inside a command the messages suggest (`cd <project> && …`), as one word of the user's shell: a project
// under `~/My Pipelines` was split at the space when the command was pasted. The scaffolder has the same rule; the
// loader does not depend on the scaffolder, so it is written here too.

/** POSIX: in single quotes when it needs to be. Windows: forward slashes, in double quotes when it needs to be. */
export function shellWord(path: string, platform: NodeJS.Platform = process.platform): string {
  if (platform !== 'win32') return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
  const slashed = path.replaceAll('\\', '/');
  // No comma, and no @ first: PowerShell reads `a,b` as an array and `@name` as a splatted variable.
  if (/^[\w+=:./-][\w@+=:./-]*$/.test(slashed)) return slashed;
  // PowerShell and Git Bash expand `$` and a backtick inside double quotes.
  return /[$`]/.test(slashed) ? `'${slashed.replaceAll("'", "''")}'` : `"${slashed}"`;
}

// `.env` and `.env.example` of the emitted project. Values are quoted so dotenv-style parsers (Node's
// util.parseEnv / --env-file, the pipeline's loader) read back exactly what was typed; no escape syntax exists inside
// quotes, so the quote character is one the value does not contain.
import type { EnvVarChoice } from './catalog.js';
import { UserError } from './errors.js';
import type { Renderer } from './render.js';

class EnvValueError extends UserError {}

export function formatEnvValue(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new EnvValueError(`the value for ${name} contains a line break; paste it on one line`);
  // parseEnv reads a NUL back, but no process environment can hold one.
  if (value.includes('\0')) throw new EnvValueError(`the value for ${name} contains a NUL character, which no environment variable can hold; paste the value again`);
  for (const quote of ["'", '"', '`']) {
    // Double quotes expand \n, so they are only safe when the value has no backslash-n.
    if (value.includes(quote) || (quote === '"' && value.includes('\\n'))) continue;
    return `${quote}${value}${quote}`;
  }
  throw new EnvValueError(`the value for ${name} contains ', " and \`; set ${name} in the environment instead of .env`);
}

export function renderDotEnv(credentials: Readonly<Record<string, string>>): string {
  const lines = ['# Credentials for the pipeline. Never commit this file (it is in .gitignore).'];
  for (const [name, value] of Object.entries(credentials)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new EnvValueError(`${JSON.stringify(name)} is not an env var name`);
    if (value !== '') lines.push(`${name}=${formatEnvValue(name, value)}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface EnvVarContext extends EnvVarChoice {
  /** Resources that read the variable, comma-separated. */
  usedBy: string;
}

/** Names assigned in a .env-style file (commented-out lines count, so a user's `# NAME=` is not duplicated). */
function assignedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*#?\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}

/**
 * Appends blocks for the variables `.env.example` lacks, and adds the resources in `vars` to the `# Needed by:` line of
 * those it has; returns the new text and the names added.
 */
export function appendEnvExample(text: string, vars: readonly EnvVarContext[], renderer: Renderer) {
  const present = assignedNames(text);
  const missing = vars.filter((v) => !present.has(v.name));
  // In the file's own line ends: a CRLF checkout (git's autocrlf on Windows) would otherwise get LF blocks in it.
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const blocks = missing.map((v) => renderer.renderPartial('envVar', v).replace(/\r?\n/g, eol));
  const noted = withNeededBy(text, vars);
  // A line end is added only before an appended block: an --add that appends nothing leaves the file as it is.
  const base = blocks.length === 0 || noted === '' || noted.endsWith('\n') ? noted : `${noted}${eol}`;
  return { text: base + blocks.join(''), added: missing.map((v) => v.name) };
}

/**
 * `text` with each resource of `vars` named in the `# Needed by:` line right above its variable (as the envVar partial
 * writes it), after the names already there (a user's own stay). --add of a resource needing a variable the project
 * already had left it naming the first resources only, as if removing them made the variable unneeded.
 */
function withNeededBy(text: string, vars: readonly EnvVarContext[]): string {
  const users = new Map(vars.map((v) => [v.name, v.usedBy.split(',').map((s) => s.trim())]));
  return text.replace(/^# Needed by:([^\r\n]*)(?=\r?\n[ \t]*#?[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=)/gm, (line, list: string, name: string) => {
    const named = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const more = (users.get(name) ?? []).filter((resource) => resource !== '' && !named.includes(resource));
    return more.length === 0 ? line : `# Needed by: ${[...named, ...more].join(', ')}`;
  });
}

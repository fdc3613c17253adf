// `npm run demo` scaffolds snapengage-demo/ again on every run, and the README invites editing it. Before replacing it,
// the demo checks it against the fingerprint it wrote when it made it: a project as the demo left it (data and
// installs aside) is replaced; one with edits, or with a `.env` of the user's credentials, is moved aside, never lost.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** In the project: what the demo wrote, file by file (path → sha256). */
export const FINGERPRINT_FILE = '.demo-files.json';

/** What the demo's own runs add: installs, the lockfile, the loaded data and its staging. Not the user's work. */
function ignored(path: string): boolean {
  const name = path.split('/').at(-1)!;
  return (
    path === FINGERPRINT_FILE || name === 'node_modules' || name === '.git' || path === 'package-lock.json' ||
    /\.duckdb(\.wal|\.staging)?$/.test(name)
  );
}

function files(root: string, dir = root, out = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    const path = relative(root, full).split('\\').join('/');
    if (ignored(path)) continue;
    if (entry.isDirectory()) files(root, full, out);
    else out.set(path, createHash('sha256').update(readFileSync(full)).digest('hex'));
  }
  return out;
}

/** Records the project as the demo made it. */
export function writeFingerprint(projectDir: string): void {
  writeFileSync(join(projectDir, FINGERPRINT_FILE), `${JSON.stringify(Object.fromEntries(files(projectDir)), null, 2)}\n`);
}

/** The files that differ from what the demo made (changed, added or removed); null when it has no fingerprint. */
export function changedFiles(projectDir: string): string[] | null {
  const fingerprintPath = join(projectDir, FINGERPRINT_FILE);
  if (!existsSync(fingerprintPath)) return null;
  let made: Record<string, string>;
  try {
    made = JSON.parse(readFileSync(fingerprintPath, 'utf8')) as Record<string, string>;
  } catch {
    return null;
  }
  const now = files(projectDir);
  const changed = [...now].filter(([path, hash]) => made[path] !== hash).map(([path]) => path);
  const removed = Object.keys(made).filter((path) => !now.has(path));
  return [...changed, ...removed].sort();
}

/**
 * Makes way for a new demo project: nothing to do when there is none or it is as the demo made it (the scaffolder's
 * --overwrite then replaces it); otherwise it is renamed to `<dir>.kept-<time>` and the new name returned.
 */
export function keepEditedProject(projectDir: string, now: Date = new Date()): { keptAs: string; changed: string[] | null } | null {
  if (!existsSync(projectDir)) return null;
  const changed = changedFiles(projectDir);
  if (changed !== null && changed.length === 0) return null;
  const keptAs = `${projectDir}.kept-${now.toISOString().replace(/[:.]/g, '-')}`;
  renameSync(projectDir, keptAs);
  return { keptAs, changed };
}

/**
 * The scaffolder's output as the demo shows it: its "Next:" steps left out, since the demo goes on to do them itself
 * (install, then `npm start` with the sandbox's credentials instead of a .env). Printed as they were, they came in
 * the middle of the run, followed by the demo doing something else than they say. What it says for users is unchanged.
 */
export function scaffoldSummary(output: string): string {
  const lines = output.replace(/\n$/, '').split('\n');
  const next = lines.findIndex((line) => / Next:$/.test(line));
  if (next === -1) return lines.join('\n');
  let end = next + 1;
  while (end < lines.length && lines[end]!.startsWith('  ')) end++;
  return [...lines.slice(0, next), lines[next]!.replace(/ Next:$/, ''), ...lines.slice(end)].join('\n');
}

/** The scaffolder's arguments for the demo: no prompt, the local tarballs, the install and the run left to the demo. */
export function scaffoldArgs(dir: string, resources: string, packs: string): string[] {
  return [dir, '--yes', '--resources', resources, '--packages', packs, '--overwrite', '--no-install', '--no-git'];
}


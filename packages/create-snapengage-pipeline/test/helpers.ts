// Shared by the root test/scaffold*.test.ts files: build the CLI once (under a lock, since vitest runs files in
// parallel), spawn it like a user would, and read back what it wrote.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
export const repoRoot = join(packageDir, '..', '..');
export const cliPath = join(packageDir, 'dist', 'cli.js');

const LOCK = join(tmpdir(), 'snapengage-toolkit-build.lock');

/** Runs `fn` while holding a directory lock shared by every test process (bounded wait: 10 minutes). */
export async function withBuildLock<T>(fn: () => T | Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 1200) throw error;
      // A lock older than 10 minutes belongs to a killed run. Another process may release or clear it between the
      // mkdir and here (ENOENT): then the next attempt takes it.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 600_000) rmdirSync(LOCK);
      } catch (gone) {
        if ((gone as NodeJS.ErrnoException).code !== 'ENOENT') throw gone;
        continue;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmdirSync(LOCK);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const WORKSPACES = { 'snapengage-client': 'client', 'snapengage-sandbox': 'sandbox', 'snapengage-pipeline': 'pipeline', 'create-snapengage-pipeline': 'create-snapengage-pipeline' } as const;
export type WorkspaceName = keyof typeof WORKSPACES;
/**
 * The workspaces whose built declarations a workspace's build reads: tsc may copy their types into its .d.ts, so a
 * newer dist/ of one of them makes its own stale too (the API report read the pipeline's old copy of a client type).
 */
const BUILT_FROM: Readonly<Record<WorkspaceName, readonly WorkspaceName[]>> = {
  'snapengage-client': [],
  'snapengage-sandbox': [],
  'snapengage-pipeline': ['snapengage-client'],
  'create-snapengage-pipeline': ['snapengage-client', 'snapengage-pipeline'],
};

function newestBuilt(name: WorkspaceName, root: string): number {
  try {
    return newestMtime(join(root, 'packages', WORKSPACES[name], 'dist'));
  } catch {
    return 0;
  }
}

/**
 * Builds the workspaces whose dist/ is missing or older than their sources (src/, generated/, templates/), under the
 * lock, each even when an earlier one's build failed (one error then names every failure). Nothing is rewritten
 * when dist/ is fresh, so CLIs other test files spawn never see half-written files. `root`: a repo laid out as this one.
 */
export async function ensureBuilt(names: readonly WorkspaceName[] = ['create-snapengage-pipeline'], root = repoRoot): Promise<void> {
  await withBuildLock(() => {
    const shared = Math.max(newestMtime(join(root, 'generated')), newestMtime(join(root, 'templates')));
    // Dependencies first, whatever order `names` has, so a dependent is compared with their fresh dist/.
    const order = (Object.keys(BUILT_FROM) as WorkspaceName[]).filter((n) => names.includes(n));
    // A failed build does not stop the next: tsc writes its output even on a type error, and a dependent edited too
    // would otherwise stay stale while the tests run against "what tsc wrote" (global-setup.ts).
    const failures: string[] = [];
    for (const name of order) {
      const dir = join(root, 'packages', WORKSPACES[name]);
      const inputs = Math.max(shared, newestMtime(join(dir, 'src')), ...BUILT_FROM[name].map((n) => newestBuilt(n, root)));
      if (newestBuilt(name, root) >= inputs) continue;
      const result = spawnSync('npm', ['run', 'build', '-w', name], { cwd: root, encoding: 'utf8' });
      if (result.status !== 0) failures.push(`building ${name} failed:\n${result.stdout}${result.stderr}`);
    }
    if (failures.length > 0) throw new Error(failures.join('\n'));
  });
}

export const ensureCliBuilt = () => ensureBuilt(['create-snapengage-pipeline']);

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns the built CLI with stdin that is not a TTY (like CI or an AI agent's shell). */
export function runCli(args: readonly string[], cwd: string, env: Record<string, string> = {}): CliRun {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * ts-morph (and the TypeScript compiler under it, ~0.2 s to load) on the first call: most files that import these
 * helpers (the pipeline's tests that need a built CLI, the pack and API report tests) never parse a pipeline.ts.
 */
let tsMorph: typeof import('ts-morph') | undefined;

/** Resource names in the `resources` object of the definePipeline call, read with the TypeScript parser. */
export function pipelineResources(source: string): string[] {
  const { Node, Project, SyntaxKind } = (tsMorph ??= createRequire(import.meta.url)('ts-morph') as typeof import('ts-morph'));
  const file = new Project({ useInMemoryFileSystem: true }).createSourceFile('p.ts', source);
  const call = file.getDescendantsOfKind(SyntaxKind.CallExpression).find((c) => c.getExpression().getText() === 'definePipeline');
  const config = call?.getArguments()[0];
  if (!config || !Node.isObjectLiteralExpression(config)) throw new Error('no definePipeline({ ... }) in the file');
  const resources = config.getPropertyOrThrow('resources').asKindOrThrow(SyntaxKind.PropertyAssignment).getInitializerOrThrow();
  return resources.asKindOrThrow(SyntaxKind.ObjectLiteralExpression).getProperties().map((p) => (p as unknown as { getName(): string }).getName());
}

export function listTree(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listTree(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)]))
    .sort();
}

export const UP = '\x1b[A';
export const DOWN = '\x1b[B';
export const ENTER = '\r';
export const CTRL_C = '\x03';

/** Streams that pretend to be a terminal, for driving the real @clack/prompts questions in-process. */
export function fakeTerminal() {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin });
  const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 120, rows: 40 });
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  /** Waits (bounded) until the screen shows `text` after what was already consumed, then types `keys`. */
  let seen = 0;
  async function answer(text: string, ...keys: string[]) {
    for (let i = 0; i < 200 && !out.slice(seen).includes(text); i++) await new Promise((r) => setTimeout(r, 25));
    const at = out.indexOf(text, seen);
    if (at < 0) throw new Error(`prompt "${text}" never appeared; screen:\n${out.slice(-2000)}`);
    seen = at + text.length;
    for (const key of keys) {
      stdin.write(key);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return { stdin, stdout, stderr, answer, output: () => out, errors: () => err };
}

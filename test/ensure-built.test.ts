// ensureBuilt (test/global-setup.ts runs it before any test) in a repo of its own: workspaces named as this one's,
// whose build scripts stand in for tsc (which writes its output even when it fails on a type error).
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ensureBuilt } from '../packages/create-snapengage-pipeline/test/helpers.js';

let root: string | undefined;
afterEach(() => root && rmSync(root, { recursive: true, force: true }));

/** A repo with the client and the loader as workspaces; `build` is each one's build script (node -e …). */
function fakeRepo(builds: Record<'client' | 'pipeline', string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ensure-built-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fake-root', private: true, workspaces: ['packages/*'] }));
  for (const dirName of ['generated', 'templates']) mkdirSync(join(dir, dirName));
  for (const [name, build] of Object.entries(builds)) {
    const pkg = join(dir, 'packages', name);
    mkdirSync(join(pkg, 'src'), { recursive: true });
    mkdirSync(join(pkg, 'dist'));
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: `snapengage-${name}`, version: '0.0.0', scripts: { build } }));
    writeFileSync(join(pkg, 'src', 'index.ts'), 'export {};\n');
    writeFileSync(join(pkg, 'dist', 'index.js'), 'export {};\n');
    // Built an hour ago; the sources are edited below.
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(pkg, 'dist', 'index.js'), hourAgo, hourAgo);
  }
  return dir;
}

const WRITE_DIST = "require('node:fs').writeFileSync('dist/index.js', 'export {};\\n')";

it('a client build that fails (as tsc on a type error: its output written) still lets the loader be rebuilt', async () => {
  root = fakeRepo({ client: `node -e "${WRITE_DIST}; process.exit(1)"`, pipeline: `node -e "${WRITE_DIST}"` });
  const pipelineDist = join(root, 'packages', 'pipeline', 'dist', 'index.js');
  const before = statSync(pipelineDist).mtimeMs;
  // The loader's source edited: its dist/ must be rebuilt, whatever happened to the client's build.
  await expect(ensureBuilt(['snapengage-client', 'snapengage-pipeline'], root)).rejects.toThrow(/building snapengage-client failed/);
  expect(statSync(pipelineDist).mtimeMs).toBeGreaterThan(before);
}, 60_000);

it('names every workspace whose build failed, in one error', async () => {
  root = fakeRepo({ client: `node -e "${WRITE_DIST}; process.exit(1)"`, pipeline: `node -e "process.exit(2)"` });
  const error = await ensureBuilt(['snapengage-client', 'snapengage-pipeline'], root).then(() => undefined, (e: Error) => e);
  expect(error?.message).toMatch(/building snapengage-client failed/);
  expect(error?.message).toMatch(/building snapengage-pipeline failed/);
}, 60_000);

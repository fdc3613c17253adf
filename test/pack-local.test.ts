// `npm run pack:local` and `npm run demo` start npm from a script npm runs. On Windows `npm` is npm.cmd, which spawn
// cannot start without a shell; here that is a PATH without npm on it, only node, as spawn sees Windows'.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withBuildLock } from '../packages/create-snapengage-pipeline/test/helpers.js';
import { reinstallCommand, repoRoot } from './pack-local.js';

// Made in beforeAll: vitest runs no hook of a file whose tests a -t filter skips all, so one made at import was left.
let onlyNode: string;
beforeAll(() => {
  onlyNode = mkdtempSync(join(tmpdir(), 'only-node-'));
});
afterAll(() => rmSync(onlyNode, { recursive: true, force: true }));

/** npm's own CLI file, as npm hands it to the scripts it runs (npm_execpath). */
function npmCli(): string {
  if (process.env.npm_execpath && /npm-cli\.c?js$/.test(process.env.npm_execpath)) return process.env.npm_execpath;
  const npm = (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'npm')).find((file) => existsSync(file));
  return realpathSync(npm!);
}

it('packs with npm run as npm_execpath under this node, not a command named npm on PATH', async () => {
  symlinkSync(process.execPath, join(onlyNode, 'node'));
  const script = "const { packLocal } = await import('./test/pack-local.ts'); console.log(JSON.stringify(packLocal({ build: false, quiet: true })));";
  const output = await withBuildLock(() =>
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: { PATH: onlyNode, HOME: process.env.HOME ?? '', npm_execpath: npmCli() },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const files = JSON.parse(output.trim().split('\n').at(-1)!) as string[];
  expect(files.map((f) => f.replace(/-\d+\.\d+\.\d+.*$/, ''))).toEqual(['create-snapengage-pipeline', 'snapengage-client', 'snapengage-pipeline', 'snapengage-sandbox']);
}, 120_000);

it('the printed reinstall command keeps a tarball path with spaces (a clone under ~/My Projects) one word', () => {
  const files = ['create-snapengage-pipeline-0.1.0.tgz', 'snapengage-client-0.1.0.tgz', 'snapengage-pipeline-0.1.0.tgz'];
  // Before: `npm install /home/me/My Projects/…/snapengage-client-0.1.0.tgz …`, which a shell splits at each space.
  expect(reinstallCommand(files, "/home/me/My Projects/it's here/.packs", 'linux')).toBe(
    "npm install '/home/me/My Projects/it'\\''s here/.packs/snapengage-client-0.1.0.tgz' '/home/me/My Projects/it'\\''s here/.packs/snapengage-pipeline-0.1.0.tgz'",
  );
  expect(reinstallCommand(files, '/srv/repo/.packs', 'linux')).toBe('npm install /srv/repo/.packs/snapengage-client-0.1.0.tgz /srv/repo/.packs/snapengage-pipeline-0.1.0.tgz');
});

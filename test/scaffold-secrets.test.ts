// Secrets audit of the scaffolder: credentials typed at the prompts (here the sandbox's real ones) are written to the
// project's .env only (owner-only, gitignored), never to another project file or the terminal, and --add keeps it so.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseEnv } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { main } from '../packages/create-snapengage-pipeline/src/index.js';
import { listTree } from '../packages/create-snapengage-pipeline/test/helpers.js';

let box: Sandbox;
let cwd: string;

beforeAll(async () => {
  box = await startSandbox({ port: 0, seed: 5, cases: 10, widgets: 1, days: 2 });
  cwd = mkdtempSync(join(tmpdir(), 'scaffold-secrets-'));
});
afterAll(async () => {
  await box?.close();
  rmSync(cwd, { recursive: true, force: true });
});

function streams() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => (text += c.toString()));
  stderr.on('data', (c: Buffer) => (text += c.toString()));
  return { stdin: new PassThrough(), stdout, stderr, text: () => text };
}

it('writes credentials to .env only', async () => {
  const env = box.env;
  const secrets = [env.SNAPENGAGE_API_TOKEN!, env.SNAPENGAGE_API_KEY!, env.SNAPENGAGE_PROVISIONING_KEY!];
  const credentials = Object.fromEntries(
    ['SNAPENGAGE_API_TOKEN', 'SNAPENGAGE_API_KEY', 'SNAPENGAGE_PROVISIONING_KEY', 'SNAPENGAGE_ORG_ID', 'SNAPENGAGE_WIDGET_ID', 'SNAPENGAGE_EMAIL'].map((n) => [n, env[n]!]),
  );
  const io = streams();
  const code = await main({
    argv: ['--no-install', '--interactive'],
    env: {},
    cwd,
    ...io,
    ask: async () => ({ dir: 'proj', resources: ['logs', 'chat_poll', 'users'], startDate: null, credentials, install: false, git: true }),
  });
  expect(code, io.text()).toBe(0);
  const dir = join(cwd, 'proj');
  const added = streams();
  expect(await main({ argv: ['--add', 'widgets', dir], env: {}, cwd, ...added })).toBe(0);

  expect(parseEnv(readFileSync(join(dir, '.env'), 'utf8'))).toEqual(credentials);
  expect(statSync(join(dir, '.env')).mode & 0o077).toBe(0);
  const files = listTree(dir).filter((f) => !f.startsWith('.git/'));
  expect(files).toContain('.env.example');
  for (const file of files.filter((f) => f !== '.env')) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const secret of secrets) expect(text.includes(secret), `${file} holds a credential`).toBe(false);
  }
  for (const secret of secrets) expect(io.text() + added.text()).not.toContain(secret);
  const git = spawnSync('git', ['check-ignore', '.env'], { cwd: dir, encoding: 'utf8' });
  if (!git.error) expect(git.stdout.trim()).toBe('.env');
});

// The packed client works outside the monorepo: build it in a copy of the repository layout (as a fresh clone
// would), `npm pack` it, install the tarball into the consumer fixture, typecheck a usage file whose
// expected-error directives must all be real errors, then run the installed package against the sandbox.
// Built in a temp copy so the workspace's dist/ (used by other packages' spawned CLIs) is never rewritten.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { startSandbox } from 'snapengage-sandbox';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
const work = mkdtempSync(join(tmpdir(), 'snapengage-client-pack-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, ...env } });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}

it('packs, installs outside the monorepo, typechecks and runs', async () => {
  // 1. A fresh-clone-like tree with only what the client build needs.
  const tree = join(work, 'repo');
  const pkg = join(tree, 'packages/client');
  mkdirSync(pkg, { recursive: true });
  // The root package.json makes generated/*.ts ES modules ("type": "module").
  for (const file of ['package.json', 'tsconfig.base.json']) cpSync(join(repoRoot, file), join(tree, file));
  cpSync(join(repoRoot, 'generated'), join(tree, 'generated'), { recursive: true });
  for (const entry of ['package.json', 'tsconfig.build.json', 'src', 'README.md']) {
    cpSync(join(repoRoot, 'packages/client', entry), join(pkg, entry), { recursive: true });
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'), 'dir');
  run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], pkg);
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], pkg);
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  expect(tarball).toBeDefined();

  // 2. Install into the consumer fixture, offline when the npm cache has openapi-fetch.
  const consumer = join(work, 'consumer');
  cpSync(join(here, 'fixtures/consumer'), consumer, { recursive: true });
  run('npm', ['install', join(work, tarball as string), '--prefer-offline', '--no-audit', '--no-fund'], consumer);

  // 3. Typecheck: succeeds only if every @ts-expect-error line is really rejected.
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], consumer);

  // 4. Run the installed package (dist/ only) against the sandbox.
  const sandbox = await startSandbox({ cases: 250, widgets: 1, days: 5, seed: 9 });
  try {
    const script = `
      import { createSnapEngageClient, credentialsFromEnv } from 'snapengage-client';
      const client = createSnapEngageClient(credentialsFromEnv());
      let n = 0;
      for await (const c of client.iterateLogs({ orgId: process.env.ORG_ID, widgetId: process.env.WIDGET_ID, start: process.env.START, end: '2100-01-01' })) n++;
      console.log(JSON.stringify({ n }));`;
    // Asynchronous: the sandbox lives in this process and must keep answering while the script runs.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: consumer,
      timeout: 60_000,
      env: {
        ...process.env,
        SNAPENGAGE_BASE_URL: sandbox.url,
        SNAPENGAGE_API_TOKEN: sandbox.credentials.apiToken,
        ORG_ID: sandbox.credentials.orgId,
        WIDGET_ID: sandbox.credentials.widgetIds[0] as string,
        START: sandbox.startDate,
      },
    });
    expect(JSON.parse(stdout.trim())).toEqual({ n: 250 });
  } finally {
    await sandbox.close();
  }
}, 180_000);

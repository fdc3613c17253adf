// The packed client works outside the monorepo: build it in a copy of the repository layout (as a fresh clone
// would), `npm pack` it, check what the tarball holds, install it into the consumer fixture, typecheck a usage file
// whose expected-error directives must all be real errors and the READMEs' client snippets (strict consumer settings:
// skipLibCheck false, exactOptionalPropertyTypes, module NodeNext, Node16, Preserve/Bundler and the legacy
// ESNext/Node10, lib DOM or a worker's WebWorker without DOM, no @types/node), then run the installed package against
// the sandbox, from ESM and from CommonJS (require(esm), Node 20.19+ and 22.12+).
// Built in a temp copy so the workspace's dist/ (used by other packages' spawned CLIs) is never rewritten.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox } from 'snapengage-sandbox';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
// Made in beforeAll: vitest runs no hook of a file whose tests a -t filter skips all, so one made at import was left.
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'snapengage-client-pack-'));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, ...env } });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}


/** The ```ts blocks of a markdown file (only those importing snapengage-client unless `all`), joined into one module. */
function readmeSnippets(file: string, all: boolean): string {
  const blocks = [...readFileSync(file, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const picked = all ? blocks : blocks.filter((b) => b.includes("from 'snapengage-client'"));
  expect(picked.length, file).toBeGreaterThan(0);
  return picked.join('\n');
}

// What the READMEs' snippets take as given: only `process`, as the consumer has no Node types (the client needs
// none). Everything else an example uses it declares itself, so a copied example compiles as written.
const SNIPPET_PREAMBLE = `declare const process: { env: Record<string, string | undefined> };
`;

/** Every file in the tarball is reachable: relative imports resolve inside it, source maps carry their sources. */
function checkTarball(files: string[], manifest: { exports: Record<string, string | Record<string, string>>; main: string; types: string }): string[] {
  const problems: string[] = [];
  const shipped = new Set(files);
  const root = join(work, 'unpacked/package');
  for (const file of files) {
    if (/\.(c|m)?ts$/.test(file) && !/\.d\.(c|m)?ts$/.test(file)) problems.push(`${file}: TypeScript source shipped (its imports point outside the package)`);
    if (file.endsWith('.map')) {
      const map = JSON.parse(readFileSync(join(root, file), 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
      map.sources.forEach((source, i) => {
        const target = posix.join(posix.dirname(file), source);
        if (!shipped.has(target) && typeof map.sourcesContent?.[i] !== 'string') problems.push(`${file}: source ${source} is neither shipped nor inlined`);
      });
    }
    if (/\.(js|d\.ts)$/.test(file)) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
        let target = posix.join(posix.dirname(file), m[1] as string);
        if (file.endsWith('.d.ts')) target = target.replace(/\.js$/, '.d.ts');
        if (!shipped.has(target)) problems.push(`${file}: imports ${m[1]}, not in the tarball`);
      }
    }
  }
  // A subpath may be one file (`"./package.json": "./package.json"`) rather than conditions.
  const targets = [manifest.main, manifest.types, ...Object.values(manifest.exports).flatMap((conditions) => typeof conditions === 'string'
    ? [conditions]
    : Object.entries(conditions).filter(([condition]) => condition !== 'snapengage-source').map(([, target]) => target))];
  for (const target of targets) if (!shipped.has(posix.normalize(target))) problems.push(`package.json points at ${target}, not in the tarball`);
  // TypeScript takes the first condition it matches: "types" must come before "default"/"import".
  for (const [key, conditions] of Object.entries(manifest.exports)) {
    if (typeof conditions === 'string') continue;
    const order = Object.keys(conditions).filter((c) => c !== 'snapengage-source');
    if (order[0] !== 'types') problems.push(`exports["${key}"]: "types" must be the first condition consumers match, got ${order.join(', ')}`);
  }
  return problems;
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
  const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], pkg)) as Array<{ files: Array<{ path: string }> }>;
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  expect(tarball).toBeDefined();
  mkdirSync(join(work, 'unpacked'));
  run('tar', ['xzf', join(work, tarball as string), '-C', join(work, 'unpacked')], work);
  const manifest = JSON.parse(readFileSync(join(work, 'unpacked/package/package.json'), 'utf8'));
  expect(checkTarball((packed[0]?.files ?? []).map((f) => f.path), manifest)).toEqual([]);

  // 2. Install into the consumer fixture, offline when the npm cache has openapi-fetch.
  const consumer = join(work, 'consumer');
  cpSync(join(here, 'fixtures/consumer'), consumer, { recursive: true });
  run('npm', ['install', join(work, tarball as string), '--prefer-offline', '--no-audit', '--no-fund'], consumer);

  // 3. Typecheck: succeeds only if every @ts-expect-error line is really rejected, and the READMEs' snippets compile
  // as written. Types come from the tarball's dist/ only (never a .ts source, whatever the module resolution).
  writeFileSync(join(consumer, 'readme-client.ts'), SNIPPET_PREAMBLE + readmeSnippets(join(repoRoot, 'packages/client/README.md'), true));
  writeFileSync(join(consumer, 'readme-root.ts'), SNIPPET_PREAMBLE + readmeSnippets(join(repoRoot, 'README.md'), false));
  for (const config of ['tsconfig.json', 'tsconfig.node16.json', 'tsconfig.bundler.json', 'tsconfig.node10.json', 'tsconfig.worker.json']) {
    const listed = run(process.execPath, [tsc, '-p', config, '--listFiles'], consumer).split('\n');
    const fromPackage = listed.filter((f) => f.includes('node_modules/snapengage-client/'));
    expect(fromPackage.length, config).toBeGreaterThan(0);
    expect(fromPackage.filter((f) => !/\/dist\/.*\.d\.ts$/.test(f)), config).toEqual([]);
  }
  const resolved = run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('snapengage-client'))"], consumer).trim();
  expect(resolved).toMatch(/node_modules\/snapengage-client\/dist\/.*\.js$/);
  // Tools (and apps reporting versions) read a package's manifest by its subpath; with `exports` and no
  // "./package.json" entry that threw ERR_PACKAGE_PATH_NOT_EXPORTED.
  const manifestScript = "import { createRequire } from 'node:module'; import { CLIENT_VERSION } from 'snapengage-client';" +
    " const m = createRequire(import.meta.url)('snapengage-client/package.json'); console.log(m.name, m.version === CLIENT_VERSION);";
  expect(run(process.execPath, ['--input-type=module', '-e', manifestScript], consumer).trim()).toBe('snapengage-client true');

  // 4. Run the installed package (dist/ only) against the sandbox.
  const sandbox = await startSandbox({ cases: 250, widgets: 1, days: 5, seed: 9 });
  try {
    const script = `
      import { createSnapEngageClient, credentialsFromEnv, unwrap, SnapEngageError } from 'snapengage-client';
      const client = createSnapEngageClient(credentialsFromEnv());
      let requests = 0;
      client.use({ onRequest() { requests++; } });
      const query = { widgetId: process.env.WIDGET_ID, start: process.env.START, end: '2100-01-01' };
      const first = unwrap(await client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId: process.env.ORG_ID }, query } }));
      let n = 0;
      for await (const c of client.iterateLogs({ orgId: process.env.ORG_ID, ...query })) n++;
      let pages = 0;
      for await (const { data } of client.iteratePages('/api/v2/{orgId}/logs', { params: { path: { orgId: process.env.ORG_ID }, query } })) pages += data.cases.length > 0 ? 1 : 0;
      let kind;
      try {
        unwrap(await createSnapEngageClient({ ...credentialsFromEnv(), apiToken: 'wrong', maxRetries: 0 }).GET('/api/v2/{orgId}/logs', { params: { path: { orgId: process.env.ORG_ID }, query } }));
      } catch (error) {
        kind = error instanceof SnapEngageError ? error.kind : String(error);
      }
      console.log(JSON.stringify({ n, pages, firstPage: first.cases.length > 0, middleware: requests >= 1 + pages, kind }));`;
    // Asynchronous: the sandbox lives in this process and must keep answering while the script runs.
    const env = {
      ...process.env,
      SNAPENGAGE_BASE_URL: sandbox.url,
      SNAPENGAGE_API_TOKEN: sandbox.credentials.apiToken,
      ORG_ID: sandbox.credentials.orgId,
      WIDGET_ID: sandbox.credentials.widgetIds[0] as string,
      START: sandbox.startDate,
    };
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, timeout: 60_000, env });
    expect(JSON.parse(stdout.trim())).toEqual({ n: 250, pages: 3, firstPage: true, middleware: true, kind: 'auth' });
    // CommonJS: the package is ESM only; require() loads it through Node's require(esm) (default from Node 20.19 and 22.12).
    const cjs = await promisify(execFile)(process.execPath, ['-e', `
      const { createSnapEngageClient, credentialsFromEnv, SnapEngageError } = require('snapengage-client');
      createSnapEngageClient(credentialsFromEnv()).GET('/api/v2/{orgId}/logs', { params: { path: { orgId: process.env.ORG_ID }, query: { widgetId: process.env.WIDGET_ID, start: process.env.START, end: '2100-01-01' } } })
        .then(({ data }) => console.log(JSON.stringify({ cases: data.cases.length, error: typeof SnapEngageError })));`], { cwd: consumer, timeout: 30_000, env });
    expect(JSON.parse(cjs.stdout.trim())).toEqual({ cases: 100, error: 'function' });
  } finally {
    await sandbox.close();
  }
}, 180_000);

// What `npm publish` would ship, checked the way a user meets it: each workspace package is packed, and its tarball
// must stand on its own outside the monorepo, where no hoisted node_modules, workspace link or "snapengage-source"
// condition helps. Static checks on every tarball (imports declared, dependencies imported, files present, source maps
// whole, nothing of the repo's own shipped), then the scaffolder installed from its tarball alone and run, the
// pipeline run from CommonJS, and our engines checked against the engines of every package a user's install pulls in.
// The client's own pack.test.ts goes further for the client (types in strict consumers, a run against the sandbox);
// scaffold-e2e installs the pipeline's tarball.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import semver from 'semver';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, withBuildLock } from '../packages/create-snapengage-pipeline/test/helpers.js';
import { packageNames, repoRoot } from './pack-local.js';

interface Manifest {
  name: string;
  scripts?: Record<string, string>;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  /** A subpath's conditions, or one file (`"./package.json": "./package.json"`). */
  exports?: Record<string, string | Record<string, string>>;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

// Made in beforeAll: vitest runs no hook of a file whose tests a -t filter skips all, so one made at import was left.
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'snapengage-packed-'));
});
const tarballs = new Map<string, { file: string; files: string[]; root: string }>();
const NODE_ENGINES = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Manifest).engines?.node as string;

beforeAll(async () => {
  await ensureBuilt(packageNames as Parameters<typeof ensureBuilt>[0]);
  // Into a folder of this test's own (not .packs/, which scaffold-e2e may be installing from), under the build lock
  // so no dist/ is rewritten mid-pack. Scripts are skipped: dist/ was just checked fresh.
  const packed = await withBuildLock(() => execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work, ...packageNames.flatMap((n) => ['-w', n])], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  for (const entry of JSON.parse(packed) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>) {
    const root = join(work, 'unpacked', entry.name);
    mkdirSync(root, { recursive: true });
    execFileSync('tar', ['xzf', join(work, entry.filename), '-C', root, '--strip-components=1']);
    tarballs.set(entry.name, { file: join(work, entry.filename), files: entry.files.map((f) => f.path), root });
  }
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The package a bare specifier names (`@scope/name/deep/path` → `@scope/name`). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

const BUILTINS = new Set(builtinModules);
// Never in a published package: the repo's tests, fixtures and benches, local secrets, build state, data files.
const NOT_SHIPPED = [/(^|\/)(test|tests|__tests__|fixtures|bench|coverage|node_modules)\//, /\.(test|spec)\.[cm]?[jt]s$/, /(^|\/)\.env/, /\.tsbuildinfo$/, /\.(duckdb|wal|tgz|log)$/];

/** Everything wrong with one unpacked tarball, as readable lines (empty when it is fine). */
function problemsOf(files: string[], root: string): string[] {
  const problems: string[] = [];
  const shipped = new Set(files);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
  const declared = new Set([manifest.name, ...Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies })]);
  const imported = new Set<string>();

  for (const file of files) {
    // The scaffolder's templates/ are what it writes into a project, a test file among them.
    if (!file.startsWith('templates/') && NOT_SHIPPED.some((pattern) => pattern.test(file))) problems.push(`${file}: not for publishing`);
    if (statSync(join(root, file)).size > 512 * 1024) problems.push(`${file}: over 512 kB`);
    if (file.endsWith('.map')) {
      const map = JSON.parse(readFileSync(join(root, file), 'utf8')) as { sourceRoot?: string; sources: string[]; sourcesContent?: unknown[] };
      map.sources.forEach((source, i) => {
        const target = posix.join(posix.dirname(file), map.sourceRoot ?? '', source);
        if (!shipped.has(target) && typeof map.sourcesContent?.[i] !== 'string') problems.push(`${file}: source ${source} is neither shipped nor inlined`);
      });
    }
    if (!/\.[cm]?[jt]s$/.test(file)) continue;
    // Every import a user's Node or TypeScript follows: relative ones must be in the tarball, bare ones declared (a
    // package only hoisted into the monorepo's node_modules is missing from a user's install).
    const { importedFiles, typeReferenceDirectives } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith('.')) {
        const target = posix.join(posix.dirname(file), specifier);
        const candidates = file.endsWith('.d.ts') ? [target.replace(/\.js$/, '.d.ts')] : /\.[cm]?ts$/.test(file) ? [target.replace(/\.js$/, '.ts'), target] : [target];
        if (!candidates.some((c) => shipped.has(c))) problems.push(`${file}: imports ${specifier}, not in the tarball`);
      } else if (!BUILTINS.has(specifier.replace(/^node:/, ''))) {
        imported.add(packageOf(specifier));
        if (!declared.has(packageOf(specifier))) problems.push(`${file}: imports ${specifier}, but ${packageOf(specifier)} is not in its dependencies`);
      }
    }
    for (const { fileName } of typeReferenceDirectives) problems.push(`${file}: /// <reference types="${fileName}"> makes consumers install @types/${fileName}`);
  }
  // And the other way: a dependency no shipped file imports is downloaded into every user's install for nothing
  // (a test-only or build-only package belongs in devDependencies).
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (!imported.has(name)) problems.push(`dependencies has ${name}, which no shipped file imports: remove it or move it to devDependencies`);
  }

  const targets = [manifest.main, manifest.types, ...Object.values(manifest.bin ?? {}),
    ...Object.values(manifest.exports ?? {}).flatMap((conditions) =>
      typeof conditions === 'string' ? [conditions] : Object.entries(conditions).filter(([c]) => c !== 'snapengage-source').map(([, t]) => t))];
  for (const target of targets) if (target !== undefined && !shipped.has(posix.normalize(target))) problems.push(`package.json points at ${target}, not in the tarball`);
  // Dead weight: a module that no entry point or bin reaches, by its JavaScript or by its types, is code a user
  // downloads and nobody runs or type-checks against (a generated barrel nothing imported was shipped so). tsc emits
  // both halves of every module, so a module counts as reached when either is. The scaffolder's templates/ are data.
  const moduleOf = (file: string) => file.replace(/\.d\.([cm]?)ts$/, '.$1js');
  const reached = new Set<string>();
  const seen = new Set<string>();
  const pending = targets.filter((t): t is string => t !== undefined).map((t) => posix.normalize(t));
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file) || !shipped.has(file)) continue;
    seen.add(file);
    reached.add(moduleOf(file));
    for (const { fileName: specifier } of ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true).importedFiles) {
      if (!specifier.startsWith('.')) continue;
      const target = posix.join(posix.dirname(file), specifier);
      pending.push(/\.d\.[cm]?ts$/.test(file) ? target.replace(/\.([cm]?)js$/, '.d.$1ts') : target);
    }
  }
  for (const file of files) {
    if (/\.[cm]?js$/.test(file) && !file.startsWith('templates/') && !reached.has(file)) problems.push(`${file}: shipped, but no entry point or bin reaches it, by its code or its types (if its source is gone, dist/ is stale: prepack empties it, or rm -rf dist and build)`);
  }
  for (const [key, conditions] of Object.entries(manifest.exports ?? {})) {
    if (typeof conditions === 'string') continue;
    const order = Object.keys(conditions).filter((c) => c !== 'snapengage-source');
    if (order[0] !== 'types') problems.push(`exports["${key}"]: "types" must be the first condition consumers match, got ${order.join(', ')}`);
  }
  for (const bin of Object.values(manifest.bin ?? {})) {
    if (shipped.has(posix.normalize(bin)) && !readFileSync(join(root, bin), 'utf8').startsWith('#!/usr/bin/env node\n')) problems.push(`${bin}: no "#!/usr/bin/env node" line`);
  }
  if (manifest.engines?.node !== NODE_ENGINES) problems.push(`engines.node is ${manifest.engines?.node}, not the toolkit's ${NODE_ENGINES}`);
  // `npm publish` packs whatever dist/ holds: without a build first, an edit since the last build ships stale code,
  // and without emptying dist/ first, the output of a source file since deleted (tsc never removes it).
  const prepack = `node -e "require('node:fs').rmSync('dist', { recursive: true, force: true })" && npm run build`;
  if (manifest.scripts?.prepack !== prepack) problems.push(`scripts.prepack is ${manifest.scripts?.prepack}, not ${prepack}`);
  for (const required of ['LICENSE', 'README.md']) if (!shipped.has(required)) problems.push(`${required} missing`);
  return problems;
}

describe.each(packageNames)('%s tarball', (name) => {
  it('ships what its imports, exports, bin and source maps need, all declared, no dependency it does not import, and nothing of the repo', () => {
    const tarball = tarballs.get(name);
    expect(tarball).toBeDefined();
    expect(problemsOf(tarball!.files, tarball!.root)).toEqual([]);
  });
});

function npm(args: string[], cwd: string): string {
  try {
    return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}

/**
 * Each installed package (name@version) whose engines.node leaves out a Node version the toolkit's engines admit: npm
 * warns (EBADENGINE) on every install there, or refuses with engine-strict.
 */
function enginesNarrowerThanOurs(project: string): string[] {
  const found: string[] = [];
  const visit = (modules: string) => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        for (const scoped of readdirSync(join(modules, entry))) visitPackage(join(modules, entry, scoped));
      } else {
        visitPackage(join(modules, entry));
      }
    }
  };
  const visitPackage = (dir: string) => {
    const manifestPath = join(dir, 'package.json');
    if (!existsSync(manifestPath)) return;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { name: string; version: string; engines?: { node?: string } };
    const range = manifest.engines?.node;
    if (range !== undefined && !semver.subset(NODE_ENGINES, range)) found.push(`${manifest.name}@${manifest.version} (engines.node ${range})`);
    visit(join(dir, 'node_modules'));
  };
  visit(join(project, 'node_modules'));
  return found.sort();
}

describe('installed from the tarballs alone, outside the repository', () => {
  it('the scaffolder installs with only its own dependencies, scaffolds and --adds; the engines of every installed package admit every Node ours do', () => {
    const user = join(work, 'scaffolder-user');
    mkdirSync(user);
    npm(['init', '-y'], user);
    // snapengage-client from its tarball too: it is not on the registry before the first release.
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarballs.get('snapengage-client')!.file, tarballs.get('create-snapengage-pipeline')!.file], user);
    const bin = join(user, 'node_modules/.bin/create-snapengage-pipeline');
    const run = (args: string[]) => execFileSync(bin, args, { cwd: user, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
    expect(run(['made', '--resources', 'logs', '--no-install', '--no-git', '--packages', work])).toContain('loading logs');
    expect(run(['made', '--add', 'widgets'])).toContain('Added widgets');
    const source = readFileSync(join(user, 'made/src/pipeline.ts'), 'utf8');
    expect(source).toMatch(/logs: true,[\s\S]*widgets: true,/);
    expect(enginesNarrowerThanOurs(user)).toEqual([]);
  }, 240_000);

  it('the pipeline and the sandbox: their commands run, a CommonJS app require()s and runs them, and the engines of every installed package admit every Node ours do', () => {
    const user = join(work, 'pipeline-user');
    mkdirSync(user);
    npm(['init', '-y'], user);
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', ...['snapengage-client', 'snapengage-pipeline', 'snapengage-sandbox'].map((n) => tarballs.get(n)!.file)], user);
    for (const command of ['snapengage-pipeline', 'snapengage-sandbox']) {
      const help = execFileSync(join(user, 'node_modules/.bin', command), ['--help'], { cwd: user, encoding: 'utf8', timeout: 60_000 });
      expect(help, command).toContain(`${command} `);
    }
    // OPERATIONS.md: require('snapengage-pipeline') works from CommonJS (Node's require(esm), which refuses a module
    // graph with top-level await: ERR_REQUIRE_ASYNC_MODULE). A load and a read back, the DuckDB addon found from the
    // ES module as require(esm) runs it, the sandbox on loopback in the same child process.
    const cjs = `
      const { startSandbox } = require('snapengage-sandbox');
      const { definePipeline, runPipeline, openDataset } = require('snapengage-pipeline');
      (async () => {
        const sandbox = await startSandbox({ cases: 120, widgets: 1, days: 3, seed: 5 });
        try {
          const config = definePipeline({
            pipelineName: 'cjs',
            destination: { type: 'duckdb', path: 'cjs.duckdb', dataset: 'snapengage_data' },
            resources: { logs: { incremental: { startDate: sandbox.startDate } } },
          });
          const info = await runPipeline(config, { env: sandbox.env });
          const ds = await openDataset(config);
          const rows = await ds.rows('logs', { limit: 500 });
          await ds.close();
          console.log(JSON.stringify({ loaded: info.rowCounts.logs, read: rows.length }));
        } finally {
          await sandbox.close();
        }
      })().catch((error) => { console.error(error); process.exitCode = 1; });`;
    writeFileSync(join(user, 'app.cjs'), cjs);
    const out = execFileSync(process.execPath, ['app.cjs'], { cwd: user, encoding: 'utf8', timeout: 120_000, env: { ...process.env, SNAPENGAGE_DUCKDB_THREADS: '1' } });
    expect(JSON.parse(out.trim())).toEqual({ loaded: 120, read: 120 });
    expect(enginesNarrowerThanOurs(user)).toEqual([]);
  }, 240_000);
});

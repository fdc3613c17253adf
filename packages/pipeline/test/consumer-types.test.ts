// The public config and run types compile in a consumer with exactOptionalPropertyTypes (and the other strict
// flags apps turn on), where `{ path: process.env.X }` is an error unless the property admits undefined. The
// repository's own tsconfig leaves that flag off, so this checks the fixture with it on, through the TypeScript API.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

it('PipelineConfig, definePipeline, runPipeline and openDataset typecheck with exactOptionalPropertyTypes', () => {
  const fixture = join(here, 'fixtures/exact-optional-consumer.ts');
  const base = ts.getParsedCommandLineOfConfigFile(join(repoRoot, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const options: ts.CompilerOptions = { ...base?.options, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, strict: true, noEmit: true };
  const program = ts.createProgram([fixture], options);
  const source = program.getSourceFile(fixture);
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  expect(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
}, 60_000);

// The same fixture against what an installed package gives (dist/*.d.ts of the pipeline and the client, reached
// through their "exports" without the in-repo source condition) with skipLibCheck off, so the declaration files must
// be clean, in each module resolution apps use. Node's types are optional: OPERATIONS.md says a project without them
// needs lib ESNext.Disposable (the dataset's Symbol.asyncDispose), which the last case checks. The legacy Node10
// resolution (`"moduleResolution": "node"`) without esModuleInterop is where @duckdb/node-api's own declarations
// fail (they default-import its bindings: TS1192), so the public declarations must not reach them: no exported type
// needs DuckDB's, and a consumer's compiler need not read them at all.
const LIB = ['lib.es2023.d.ts', 'lib.dom.d.ts'];
it.each([
  ['NodeNext', ts.ModuleKind.NodeNext, ts.ModuleResolutionKind.NodeNext, ['node'], LIB],
  ['Node16', ts.ModuleKind.Node16, ts.ModuleResolutionKind.Node16, ['node'], LIB],
  ['Bundler', ts.ModuleKind.Preserve, ts.ModuleResolutionKind.Bundler, ['node'], LIB],
  ['Node10, no esModuleInterop', ts.ModuleKind.ESNext, ts.ModuleResolutionKind.Node10, ['node'], LIB],
  ['NodeNext without @types/node', ts.ModuleKind.NodeNext, ts.ModuleResolutionKind.NodeNext, [], [...LIB, 'lib.esnext.disposable.d.ts']],
])('the built declarations typecheck in a consumer (%s, skipLibCheck false)', (_name, module, moduleResolution, types, lib) => {
  const fixture = join(here, 'fixtures/exact-optional-consumer.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022, lib, module, moduleResolution, types, strict: true, exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true, verbatimModuleSyntax: true, skipLibCheck: false, noEmit: true,
  };
  const program = ts.createProgram([fixture], options);
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  expect(diagnostics).toEqual([]);
  const fromPackages = program.getSourceFiles().map((f) => f.fileName).filter((f) => /\/packages\/(pipeline|client)\//.test(f) && f !== fixture);
  expect(fromPackages.length).toBeGreaterThan(0);
  expect(fromPackages.filter((f) => !/\/dist\/.*\.d\.ts$/.test(f))).toEqual([]);
  expect(program.getSourceFiles().map((f) => f.fileName).filter((f) => f.includes('/@duckdb/'))).toEqual([]);
}, 60_000);

// A CommonJS consumer (a .cts file, or a project without "type": "module") of the ES-module-only packages, from their
// built declarations. OPERATIONS.md and the client's REQUESTS.md say: with module NodeNext (TypeScript ≥ 5.8, which
// types Node's require(esm)) it imports them; with Node16 it loads them with `await import()` and imports their types
// with a resolution-mode attribute.
it.each([
  ['NodeNext, import = require()', ts.ModuleKind.NodeNext, ts.ModuleResolutionKind.NodeNext, 'commonjs-consumer.cts'],
  ['Node16, await import()', ts.ModuleKind.Node16, ts.ModuleResolutionKind.Node16, 'commonjs-node16-consumer.cts'],
])('a CommonJS consumer typechecks against the built declarations (%s, skipLibCheck false)', (_name, module, moduleResolution, file) => {
  const fixture = join(here, 'fixtures', file);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022, lib: LIB, module, moduleResolution, types: ['node'], strict: true, exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true, verbatimModuleSyntax: true, skipLibCheck: false, noEmit: true,
  };
  const program = ts.createProgram([fixture], options);
  expect(program.getSourceFile(fixture)?.impliedNodeFormat).toBe(ts.ModuleKind.CommonJS);
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  expect(diagnostics).toEqual([]);
  const fromPackages = program.getSourceFiles().map((f) => f.fileName).filter((f) => /\/packages\/(pipeline|client)\//.test(f) && f !== fixture);
  expect(fromPackages.length).toBeGreaterThan(0);
  expect(fromPackages.filter((f) => !/\/dist\/.*\.d\.ts$/.test(f))).toEqual([]);
}, 60_000);

// The other side of what OPERATIONS.md and REQUESTS.md say of a CommonJS TypeScript project: written as ES imports
// (no verbatimModuleSyntax, so they compile to require()), Node16 refuses the import (TS1479), a type import
// without resolution-mode (TS1541) and an `import x = require()` (TS1471); NodeNext (TypeScript ≥ 5.8) takes all three.
it.each([
  ['Node16', ts.ModuleKind.Node16, ts.ModuleResolutionKind.Node16, [1471, 1479, 1541]],
  ['NodeNext', ts.ModuleKind.NodeNext, ts.ModuleResolutionKind.NodeNext, []],
])('a CommonJS consumer importing the packages as ES imports (%s): the errors the docs name', (_name, module, moduleResolution, codes) => {
  const fixture = join(here, 'fixtures', 'commonjs-node16-refused.cts');
  const program = ts.createProgram([fixture], {
    target: ts.ScriptTarget.ES2022, lib: LIB, module, moduleResolution, types: ['node'], strict: true, skipLibCheck: false, noEmit: true,
  });
  expect(program.getSourceFile(fixture)?.impliedNodeFormat).toBe(ts.ModuleKind.CommonJS);
  expect(ts.getPreEmitDiagnostics(program).map((d) => d.code).sort()).toEqual(codes);
}, 60_000);

// OPERATIONS.md: the types need Node's types, or, without them, lib "DOM" (the fetch types the client's API names).
// Symbol.asyncDispose comes with the declarations (dataset.d.ts references lib esnext.disposable): with "DOM" only,
// as TypeScript 6 and 7 give by default (`types` [], lib of target es2025), it failed with TS2550 on dataset.d.ts.
it.each([
  ['@types/node, no DOM lib', ['node'], ['lib.es2023.d.ts'], []],
  ['no @types/node, ESNext.Disposable only', [], ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'], ['RequestInit']],
  ['no @types/node, DOM only', [], ['lib.es2023.d.ts', 'lib.dom.d.ts'], []],
])('the built declarations with %s', (_name, types, lib, missing) => {
  const fixture = join(here, 'fixtures/exact-optional-consumer.ts');
  const program = ts.createProgram([fixture], {
    target: ts.ScriptTarget.ES2022, lib, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types,
    strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, verbatimModuleSyntax: true, skipLibCheck: false, noEmit: true,
  });
  const messages = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (missing.length === 0) expect(messages).toEqual([]);
  else for (const name of missing) expect(messages).toContainEqual(expect.stringContaining(`'${name}'`));
}, 60_000);

// TypeScript 7 (what `npm i -D typescript` installs today: a native tsc, no compiler API, so run as a command) checks
// the built declarations in an app folder outside the repository whose node_modules is the repository's, as an
// installed app's would be. The repository itself stays on 5.9.3 (openapi-typescript needs the JS API). TypeScript 7
// is not a dependency of the repository: its package declares the bin `tsc` too, and an `npm install` into an
// existing node_modules linked its tsc over 5.9.3's (the builds then wrote TypeScript 7's declarations). `.ci/run`
// installs it apart, as it does Node 24, and names its tsc in SNAPENGAGE_TS7_TSC; without it this block is skipped.
// Strict settings as above, TypeScript 7's defaults (`types` [] and no lib: our declarations must bring what they
// need), and the removed Node10 resolution, which OPERATIONS.md names by its code.
const tsc7 = process.env.SNAPENGAGE_TS7_TSC;
const STRICT = {
  target: 'ES2022', lib: ['ES2023', 'DOM'], types: ['node'], strict: true, exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true, verbatimModuleSyntax: true, skipLibCheck: false, noEmit: true,
};
const TS7_CONFIGS: Record<string, { compilerOptions: Record<string, unknown>; files: string[] }> = {
  nodenext: { compilerOptions: { ...STRICT, module: 'NodeNext', moduleResolution: 'NodeNext' }, files: ['pipeline.ts', 'client.ts', 'cjs.cts'] },
  // Without Node's types too (a bundled or edge app): DOM's fetch types are all the declarations need.
  node16: { compilerOptions: { ...STRICT, types: [], module: 'Node16', moduleResolution: 'Node16' }, files: ['pipeline.ts', 'client.ts', 'cjs16.cts'] },
  bundler: { compilerOptions: { ...STRICT, types: [], module: 'Preserve', moduleResolution: 'Bundler' }, files: ['pipeline.ts', 'client.ts'] },
  defaults: { compilerOptions: { module: 'NodeNext', skipLibCheck: false, noEmit: true }, files: ['pipeline.ts'] },
  node10: { compilerOptions: { ...STRICT, module: 'ESNext', moduleResolution: 'Node10' }, files: ['pipeline.ts'] },
};

describe.skipIf(!tsc7)('a consumer on TypeScript 7.0.2', () => {
  let app: string;
  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), 'snapengage-ts7-consumer-'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ts7-consumer', private: true, type: 'module' }));
    symlinkSync(join(repoRoot, 'node_modules'), join(app, 'node_modules'), 'dir');
    copyFileSync(join(here, 'fixtures/exact-optional-consumer.ts'), join(app, 'pipeline.ts'));
    copyFileSync(join(here, 'fixtures/commonjs-consumer.cts'), join(app, 'cjs.cts'));
    copyFileSync(join(here, 'fixtures/commonjs-node16-consumer.cts'), join(app, 'cjs16.cts'));
    // The client's consumer fixture: each @ts-expect-error must still be an error under TypeScript 7.
    copyFileSync(join(repoRoot, 'packages/client/test/fixtures/consumer/usage.ts'), join(app, 'client.ts'));
    for (const [name, config] of Object.entries(TS7_CONFIGS)) writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify(config));
  });
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  /** tsc 7's exit status and output (diagnostics, then with --listFiles the files it read). */
  function tsc(args: string[]): { status: number; lines: string[] } {
    try {
      return { status: 0, lines: execFileSync(process.execPath, [tsc7!, ...args], { cwd: app, encoding: 'utf8', stdio: 'pipe' }).split('\n') };
    } catch (error) {
      // Diagnostics go to stdout; stderr holds why tsc did not run at all.
      const e = error as { status: number | null; stdout?: string; stderr?: string };
      return { status: e.status ?? -1, lines: `${e.stdout ?? ''}\n${e.stderr ?? ''}`.split('\n') };
    }
  }

  it('is TypeScript 7.0.2', () => {
    expect(tsc(['--version']).lines[0]).toBe('Version 7.0.2');
  });

  it.each(['nodenext', 'node16', 'bundler', 'defaults'])('the built declarations typecheck (%s, skipLibCheck false)', (name) => {
    const { status, lines } = tsc(['-p', `tsconfig.${name}.json`, '--listFiles', '--pretty', 'false']);
    expect(lines.filter((l) => /error TS\d+/.test(l))).toEqual([]);
    expect(status).toBe(0);
    const fromPackages = lines.filter((f) => /\/packages\/(pipeline|client)\//.test(f));
    expect(fromPackages.length).toBeGreaterThan(0);
    expect(fromPackages.filter((f) => !/\/dist\/.*\.d\.ts$/.test(f))).toEqual([]);
  }, 30_000);

  it('refuses the legacy Node10 resolution with TS5108, as OPERATIONS.md says', () => {
    const { status, lines } = tsc(['-p', 'tsconfig.node10.json', '--pretty', 'false']);
    expect(status).not.toBe(0);
    expect(lines.filter((l) => /error TS\d+/.test(l)).map((l) => /error (TS\d+)/.exec(l)?.[1])).toEqual(['TS5108']);
  }, 30_000);
});

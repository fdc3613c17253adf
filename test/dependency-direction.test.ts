// The house rule "dependencies run one way", checked on the code instead of trusted to review: the client uses
// generated/, the loader uses the client, the scaffolder uses the client's catalog and, for types only, the loader's
// config type; the sandbox, an independent implementation of the spec, imports nothing of the others (a bug shared
// with the client would hide behind it). Reads the import statements, dynamic import()s, require()s and
// `import('…')` types of each package's src/ and bin/ and of generated/; tests may use the sandbox, so test/ is not
// read. No network, no build: the TypeScript parser only.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..');

type Area = 'generated' | 'client' | 'pipeline' | 'scaffolder' | 'sandbox';

/** Where each area's code lives, and the package name other packages import it by. */
const AREAS: Record<Area, { dir: string; packageName?: string }> = {
  generated: { dir: 'generated' },
  client: { dir: 'packages/client', packageName: 'snapengage-client' },
  pipeline: { dir: 'packages/pipeline', packageName: 'snapengage-pipeline' },
  scaffolder: { dir: 'packages/create-snapengage-pipeline', packageName: 'create-snapengage-pipeline' },
  sandbox: { dir: 'packages/sandbox', packageName: 'snapengage-sandbox' },
};

/** What each area may import besides itself: at run time, and for types only (`import type`, erased from the build). */
const ALLOWED: Record<Area, { runtime: Area[]; typesOnly: Area[]; why: string }> = {
  generated: { runtime: [], typesOnly: [], why: 'generated/ is the spec turned into code and depends on nothing of ours' },
  client: { runtime: ['generated'], typesOnly: [], why: 'the client uses generated/ only' },
  pipeline: { runtime: ['client'], typesOnly: [], why: 'the loader uses the client (and through it generated/), never the scaffolder or the sandbox' },
  scaffolder: { runtime: ['client'], typesOnly: ['pipeline'], why: "the scaffolder uses the client's resource catalog and, as `import type`, the loader's config type (snapengage-pipeline is only a devDependency of it)" },
  sandbox: { runtime: [], typesOnly: [], why: 'the sandbox shares no code with the client, the loader or generated/' },
};

const WORKSPACE_PACKAGES = new Map(Object.entries(AREAS).flatMap(([area, { packageName }]) => (packageName ? [[packageName, area as Area] as const] : [])));
const BUILTINS = new Set(builtinModules);

interface ImportFound {
  specifier: string;
  line: number;
  typeOnly: boolean;
}

/** Every module specifier a file names, with whether the import is erased from the emitted JavaScript. */
function importsOf(fileName: string, text: string): ImportFound[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: ImportFound[] = [];
  const add = (node: ts.Node, specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (specifier && ts.isStringLiteralLike(specifier)) {
      found.push({ specifier: specifier.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, typeOnly });
    }
  };
  const visit = (node: ts.Node): void => {
    // Under verbatimModuleSyntax only a whole `import type` / `export type` is erased; `import { type A }` keeps the import.
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, node.importClause?.isTypeOnly === true);
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression, node.isTypeOnly);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true);
    else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) add(node, node.arguments[0], false);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The area a relative import lands in, or null outside all of them (spec/, generator/, test/, …). */
function areaOfPath(path: string): Area | null {
  const rel = relative(repoRoot, path).split(sep).join('/');
  for (const [area, { dir }] of Object.entries(AREAS)) if (rel === dir || rel.startsWith(`${dir}/`)) return area as Area;
  return null;
}

/** The rule each import of one file breaks, as readable lines (empty when the file keeps to the direction). */
function violationsOf(area: Area, file: string, text: string): string[] {
  const problems: string[] = [];
  const where = (line: number) => `${relative(repoRoot, file).split(sep).join('/')}:${line}`;
  for (const { specifier, line, typeOnly } of importsOf(file, text)) {
    let target: Area | null;
    if (specifier.startsWith('.')) {
      target = areaOfPath(resolve(dirname(file), specifier));
      if (target === null) {
        problems.push(`${where(line)} imports ${specifier}, outside the packages and generated/: a published package cannot reach it`);
        continue;
      }
      if (target !== area && target !== 'generated') {
        problems.push(`${where(line)} imports ${specifier} by a relative path into the ${target}: import a package by its name, or the tarball breaks`);
        continue;
      }
    } else {
      if (BUILTINS.has(specifier.replace(/^node:/, ''))) continue;
      const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
      target = WORKSPACE_PACKAGES.get(name) ?? null;
      if (target === null) continue; // a third-party package: packed-packages.test.ts checks it is declared
    }
    if (target === area) continue;
    const allowed = ALLOWED[area];
    if (allowed.runtime.includes(target) || (typeOnly && allowed.typesOnly.includes(target))) continue;
    const kind = allowed.typesOnly.includes(target) ? ' at run time (only `import type` is allowed)' : '';
    problems.push(`${where(line)} imports ${specifier} (the ${target})${kind}: ${allowed.why}`);
  }
  return problems;
}

/** The product code of one area: src/ and bin/ of a package (not test/, bench/, templates/), all of generated/. */
function productFiles(area: Area): string[] {
  const base = join(repoRoot, AREAS[area].dir);
  const roots = area === 'generated' ? [base] : [join(base, 'src'), join(base, 'bin')];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.[cm]?[jt]s$/.test(entry.name)) out.push(path);
    }
  };
  for (const root of roots) {
    try {
      walk(root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return out;
}

describe('dependencies run one way', () => {
  it.each(Object.keys(AREAS) as Area[])('%s imports only what it may', (area) => {
    const files = productFiles(area);
    expect(files.length, `no source files found under ${AREAS[area].dir}`).toBeGreaterThan(0);
    expect(files.flatMap((file) => violationsOf(area, file, readFileSync(file, 'utf8')))).toEqual([]);
  });

  // The checker itself: each rule, broken on purpose, is reported (so an empty list above means something).
  it.each<[Area, string, string, RegExp]>([
    ['client', 'packages/client/src/x.ts', "import { runPipeline } from 'snapengage-pipeline';", /snapengage-pipeline \(the pipeline\): the client uses generated\/ only/],
    ['client', 'packages/client/src/x.ts', "const box = await import('snapengage-sandbox');", /\(the sandbox\)/],
    ['pipeline', 'packages/pipeline/src/x.ts', "import type { Sandbox } from 'snapengage-sandbox';", /\(the sandbox\): the loader uses the client/],
    ['pipeline', 'packages/pipeline/src/x.ts', "export { main } from 'create-snapengage-pipeline';", /\(the scaffolder\)/],
    ['pipeline', 'packages/pipeline/src/x.ts', "import { apiOperations } from '../../../generated/catalog.js';", /\(the generated\): the loader uses the client/],
    ['pipeline', 'packages/pipeline/src/x.ts', "import { redact } from '../../client/src/redact.js';", /by a relative path into the client/],
    ['scaffolder', 'packages/create-snapengage-pipeline/src/x.ts', "import { definePipeline } from 'snapengage-pipeline';", /at run time \(only `import type` is allowed\)/],
    ['scaffolder', 'packages/create-snapengage-pipeline/src/x.ts', "import { type ResourcesConfig } from 'snapengage-pipeline';", /at run time/],
    ['scaffolder', 'packages/create-snapengage-pipeline/src/x.ts', "type C = import('snapengage-sandbox').Sandbox;", /\(the sandbox\)/],
    ['sandbox', 'packages/sandbox/src/x.ts', "import { parseLargeIntegers } from 'snapengage-client';", /the sandbox shares no code/],
    ['sandbox', 'packages/sandbox/src/x.ts', "import type { paths } from '../../../generated/openapi.js';", /\(the generated\): the sandbox shares no code/],
    ['sandbox', 'packages/sandbox/src/x.ts', "const spec = require('../../../spec/snapengage.openapi.yaml');", /outside the packages and generated\//],
    ['generated', 'generated/x.ts', "import type { Client } from 'snapengage-client';", /\(the client\): generated\/ is the spec turned into code/],
  ])('reports a %s file breaking the rule: %s %s', (area, file, text, message) => {
    const problems = violationsOf(area, join(repoRoot, file), text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it.each<[Area, string, string]>([
    ['client', 'packages/client/src/x.ts', "import { apiOperations } from '../../../generated/catalog.js';\nimport createClient from 'openapi-fetch';"],
    ['pipeline', 'packages/pipeline/src/x.ts', "import { createSnapEngageClient } from 'snapengage-client';\nimport { DuckDBInstance } from '@duckdb/node-api';"],
    ['scaffolder', 'packages/create-snapengage-pipeline/src/x.ts', "import type { ResourcesConfig } from 'snapengage-pipeline';\nimport { resources } from 'snapengage-client';"],
    ['sandbox', 'packages/sandbox/src/x.ts', "import { createServer } from 'node:http';\nimport { store } from './store.js';"],
  ])('lets a %s file import what it may', (area, file, text) => {
    expect(violationsOf(area, join(repoRoot, file), text)).toEqual([]);
  });
});

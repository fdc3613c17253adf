// Turns the spec into the files of generated/. Pure until `writeGenerated`, which replaces the output directory's
// files only after every file was produced, so an invalid spec never leaves generated/ half-written.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { buildCatalogSource, CatalogError, HEADER, SOURCE_LABELS } from './catalog.js';
import { loadAndValidateSpec, SpecError } from './validate-spec.js';

export const DEFAULT_SPEC = resolve(import.meta.dirname, '../spec/snapengage.openapi.yaml');
export const DEFAULT_OUT = resolve(import.meta.dirname, '../generated');

export type GeneratedFiles = Map<string, string>;

// The spec's descriptions end in a source label (its info.description says which): an app developer meets them in an
// editor's hover, far from the spec, so the types a hover over `paths`, `components` or `operations` shows say what
// they mean. A description that is only a label (`[code]`) says where the field is known from, and no more is known.
const LEGEND_ON = new Set(['paths', 'components', 'operations']);
const LEGEND = `*
 * Types of the SnapEngage REST APIs, generated from spec/snapengage.openapi.yaml.
 *
 * Each description ends in where its facts come from:
${Object.entries(SOURCE_LABELS).map(([label, meaning]) => ` * - [${label}] ${meaning};`).join('\n')}
 * A description that is only a label, such as [code], means that nothing more is known about the field.
 `;

export async function generate(specPath: string = DEFAULT_SPEC): Promise<GeneratedFiles> {
  const { document, lineOf } = await loadAndValidateSpec(specPath);
  let types: string;
  try {
    // A deep copy: openapi-typescript annotates the object it is given.
    const ast = await openapiTS(structuredClone(document), { alphabetize: false, silent: true });
    for (const node of ast) {
      if ((ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) && LEGEND_ON.has(node.name.text)) {
        ts.addSyntheticLeadingComment(node, ts.SyntaxKind.MultiLineCommentTrivia, LEGEND, true);
      }
    }
    types = astToString(ast);
  } catch (err) {
    throw new SpecError([{ file: specPath, pointer: '', message: `openapi-typescript: ${(err as Error).message}` }]);
  }
  let catalog: string;
  try {
    catalog = buildCatalogSource(document);
  } catch (err) {
    const ptr = err instanceof CatalogError ? err.pointer : '';
    throw new SpecError([{ file: specPath, pointer: ptr, line: ptr ? lineOf(ptr) : undefined, message: `catalog: ${(err as Error).message}` }]);
  }
  const files: GeneratedFiles = new Map();
  files.set('openapi.ts', `${HEADER}\n/* eslint-disable */\n\n${types}`);
  files.set('catalog.ts', catalog);
  return files;
}

/** Names of files in `outDir` that differ from `files`, are missing, or should not be there. */
export function staleFiles(outDir: string, files: GeneratedFiles): string[] {
  const stale: string[] = [];
  for (const [name, content] of files) {
    const path = join(outDir, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== content) stale.push(name);
  }
  if (existsSync(outDir)) {
    for (const name of readdirSync(outDir)) if (!files.has(name)) stale.push(name);
  }
  return stale.sort();
}

export function writeGenerated(outDir: string, files: GeneratedFiles): void {
  makeDirectory(outDir);
  const tmp = join(outDir, `.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    for (const [name, content] of files) writeFileSync(join(tmp, name), content);
    for (const name of readdirSync(outDir)) {
      if (files.has(name) || join(outDir, name) === tmp) continue;
      // Another run's scratch directory is left alone while that run lives; a dead run's is removed.
      const pid = /^\.tmp-(\d+)$/.exec(name)?.[1];
      if (pid !== undefined && isRunning(Number(pid))) continue;
      rmSync(join(outDir, name), { recursive: true });
    }
    // rename() replaces each file atomically; readers never see a partly written file.
    for (const name of files.keys()) renameSync(join(tmp, name), join(outDir, name));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * mkdir -p one level at a time. Node's own recursive mkdir retries the parent for ever when a file system refuses a
 * child with ENOENT although its parent exists (`--out /proc/nope` spun at 100 % CPU); here that is an error naming it.
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = resolve(dir); !existsSync(at); at = dirname(at)) {
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  for (const path of missing) mkdirSync(path);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The spec is the documentation an app developer reads, in their editor: what the TypeScript language service shows
// on hover and in completions over code that uses snapengage-client and snapengage-pipeline. A generator or type
// change that drops a description, an example or a resource's provenance on the way to the editor passes every
// typecheck, so these ask the language service itself, over a file in this repo resolved like the tests' sources
// (the "snapengage-source" condition: generated/ as it is committed, no build needed).
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..');
const fileName = join(repoRoot, 'test', '__editor_docs__.ts');

const options: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  customConditions: ['snapengage-source'],
  strict: true,
  noEmit: true,
  types: [],
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
};

/** One language service over a single in-memory source; `/*@name*\/` marks a position that the tests query. */
function editor(source: string) {
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => [fileName],
    getScriptVersion: () => '1',
    getScriptSnapshot: (f) => (f === fileName ? ts.ScriptSnapshot.fromString(source) : ts.sys.fileExists(f) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(f) ?? '') : undefined),
    getCurrentDirectory: () => repoRoot,
    getCompilationSettings: () => options,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (f) => f === fileName || ts.sys.fileExists(f),
    readFile: (f) => (f === fileName ? source : ts.sys.readFile(f)),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  const service = ts.createLanguageService(host);
  const at = (mark: string): number => {
    const i = source.indexOf(`/*@${mark}*/`);
    if (i < 0) throw new Error(`no marker ${mark}`);
    return i + `/*@${mark}*/`.length;
  };
  const text = (parts: ts.SymbolDisplayPart[] | undefined) => ts.displayPartsToString(parts);
  const docOf = (info: { documentation?: ts.SymbolDisplayPart[]; tags?: ts.JSDocTagInfo[] | undefined } | undefined) =>
    info ? [text(info.documentation), ...(info.tags ?? []).map((t) => `@${t.name} ${text(t.text)}`)].join('\n') : '';
  return {
    errors: () => service.getSemanticDiagnostics(fileName).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    /** What a hover at the marker shows below its signature line. */
    hover: (mark: string) => docOf(service.getQuickInfoAtPosition(fileName, at(mark))),
    /** What the completion list shows beside `name`, offered at the marker. */
    completion: (mark: string, name: string) => {
      const pos = at(mark);
      const entry = service.getCompletionsAtPosition(fileName, pos, {})?.entries.find((e) => e.name === name);
      if (!entry) return `(no completion ${name})`;
      return docOf(service.getCompletionEntryDetails(fileName, pos, name, {}, entry.source, {}, entry.data));
    },
  };
}

describe('the resource catalog in an editor', () => {
  const source = `
import { resources } from 'snapengage-client';
import { definePipeline, type PipelineConfig } from 'snapengage-pipeline';
void resources./*@catalog*/visitor_typing;
void resources./*@logs*/logs;
export const typed: PipelineConfig = { resources: { /*@config*/chat_poll: true } };
export default definePipeline({ resources: { logs: true, /*@define*/ } });
`;
  const ed = editor(source);

  it('typechecks', () => {
    expect(ed.errors()).toEqual([]);
  });

  it('says what a resource loads, from which endpoint, and that visitor_typing is unverified', () => {
    const doc = ed.hover('catalog');
    expect(doc).toContain('Visitor typing status of every case loaded by `logs`');
    expect(doc).toContain('GET /public/api/v2/chat/{widgetId}/{caseId}/visitorTyping');
    expect(doc).toContain('[unverified] only the dlt integration page names this endpoint');
    expect(ed.hover('logs')).toContain('[doc]');
  });

  it("shows the resource's description on a pipeline config's resource key and in its completions", () => {
    expect(ed.hover('config')).toContain('The chat messages of every case loaded by `logs`');
    // definePipeline infers its argument's type, so a hover there shows the literal; the completion list shows the docs.
    expect(ed.completion('define', 'visitor_typing')).toContain('[unverified]');
  });
});

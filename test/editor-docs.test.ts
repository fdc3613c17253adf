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
    hover: (mark: string, offset = 0) => docOf(service.getQuickInfoAtPosition(fileName, at(mark) + offset)),
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

describe('the typed client in an editor', () => {
  const source = `
import { createSnapEngageClient, type Case, type components } from 'snapengage-client';
const client = createSnapEngageClient({});
const { data } = await client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId: 'o' }, query: { start: '2017-04-20', end: '2017-04-28', /*@query*/ } } });
const c = data?.cases[0];
void c?./*@id*/id;
void c?./*@created*/created_at_date;
void data?./*@next*/linkToNextSetOfResults;
export type Availability = components['schemas'][/*@availability*/'WidgetAvailability'];
export type Labels = /*@components*/components;
export type OneCase = /*@case*/Case;
`;
  const ed = editor(source);

  it('typechecks', () => {
    expect(ed.errors()).toEqual([]);
  });

  it("shows a response field's description and its example on hover", () => {
    expect(ed.hover('id')).toBe('\n@description Case UUID. [doc]\n@example a7e91ae8-d4f4-4990-9da6-3b41fe072cc9');
    expect(ed.hover('created')).toContain('Epoch milliseconds despite the name [inferred');
    expect(ed.hover('next')).toContain('Absolute URL of the next page');
  });

  it("shows a query parameter's description and example in the completions of client.GET", () => {
    // openapi-fetch infers the init argument's type, so a hover on a written parameter shows only its literal type.
    const widgetId = ed.completion('query', 'widgetId');
    expect(widgetId).toContain('Pagination works only with a single widget id. [doc]');
    expect(widgetId).toContain('@example 5286374d-5c92-419d-bcdb-b926d242b78b');
  });

  it('says what the source labels at the end of the descriptions mean, on the types an app names', () => {
    const legend = ed.hover('components');
    for (const label of ['[doc]', '[code]', '[unverified]', '[inferred]']) expect(legend).toContain(label);
    expect(legend).toContain('only the dlt integration page');
    expect(ed.hover('case')).toContain('`[code]` public client code');
  });

  it("shows a schema's example body: the doc's booleans are strings", () => {
    // Inside the schema name's quotes, where a hover on `components['schemas']['…']` lands.
    expect(ed.hover('availability', 1)).toContain('"online": "true"');
  });
});

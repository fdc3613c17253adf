// src/pipeline.ts of the emitted project, written and edited with ts-morph only: no string templates for TypeScript,
// so no user input can break the file, and `--add` edits the syntax tree instead of patching text.
import {
  IndentationText,
  NewLineKind,
  Node,
  type ObjectLiteralExpression,
  type PropertyAssignment,
  Project,
  QuoteKind,
  SyntaxKind,
  type CodeBlockWriter,
} from 'ts-morph';
import type { ResourcesConfig } from 'snapengage-pipeline';
import type { ResourceChoice } from './catalog.js';
import { UserError } from './errors.js';

export const PIPELINE_FILE = 'src/pipeline.ts';
export const DEFAULT_DUCKDB_PATH = 'snapengage.duckdb';
export const DEFAULT_DATASET = 'snapengage_data';

/** One resource entry, typed by the loader's own config type so a contract change breaks this build. */
type ResourceEntry = NonNullable<ResourcesConfig[keyof ResourcesConfig]>;

export class PipelineEditError extends UserError {}

function newProject(): Project {
  return new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: { quoteKind: QuoteKind.Single, indentationText: IndentationText.TwoSpaces },
  });
}

// The return type is spelled out (checked against ResourceEntry by `satisfies`) so the emitted .d.ts does not import
// snapengage-pipeline, which is only a devDependency.
function resourceEntry(choice: ResourceChoice, startDate: string | null): true | { incremental: { startDate: string } } {
  return choice.incremental && startDate ? ({ incremental: { startDate } } satisfies ResourceEntry) : (true satisfies ResourceEntry);
}

/** Writes a plain-data value (booleans, numbers, strings, arrays, objects) as a TypeScript expression. */
function writeValue(writer: CodeBlockWriter, value: unknown): void {
  if (typeof value === 'string') writer.quote(value);
  else if (typeof value === 'number' || typeof value === 'boolean') writer.write(String(value));
  else if (Array.isArray(value)) {
    writer.write('[');
    value.forEach((item, i) => {
      if (i > 0) writer.write(', ');
      writeValue(writer, item);
    });
    writer.write(']');
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    writer.write('{ ');
    entries.forEach(([key, item], i) => {
      if (i > 0) writer.write(', ');
      writer.write(`${propertyName(key)}: `);
      writeValue(writer, item);
    });
    writer.write(' }');
  } else throw new Error(`cannot write ${typeof value} into ${PIPELINE_FILE}`);
}

function propertyName(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : `'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A `//` comment line: catalog descriptions are trusted, but newlines would still end the comment early. */
function commentLine(choice: ResourceChoice): string {
  const needs = choice.credentialEnv ? ` Needs ${choice.credentialEnv}.` : '';
  return `// ${choice.description}${needs}`.replace(/[\r\n\u2028\u2029]+/g, ' ');
}

function writeEntry(choice: ResourceChoice, startDate: string | null) {
  return (writer: CodeBlockWriter) => writeValue(writer, resourceEntry(choice, startDate));
}

export interface PipelineSourceOptions {
  resources: readonly ResourceChoice[];
  startDate: string | null;
  /** How the project's package manager runs it and its test (`pnpm start`, `pnpm run test`); npm's by default. */
  commands?: { start: string; test: string };
}

export function renderPipelineSource(options: PipelineSourceOptions): string {
  const file = newProject().createSourceFile('pipeline.ts', '');
  file.addImportDeclaration({ moduleSpecifier: 'snapengage-pipeline', namedImports: ['definePipeline'] });
  file.addStatements((writer) => {
    writer.write('export default definePipeline(').inlineBlock(() => {
      writer.write('destination: ');
      writeValue(writer, { type: 'duckdb', path: DEFAULT_DUCKDB_PATH, dataset: DEFAULT_DATASET });
      writer.write(',').newLine();
      writer.writeLine('resources: {');
      writer.indent(() => {
        for (const choice of options.resources) {
          writer.writeLine(commentLine(choice));
          writer.write(`${propertyName(choice.name)}: `);
          writeEntry(choice, options.startDate)(writer);
          writer.write(',').newLine();
        }
      });
      writer.writeLine('},');
    });
    writer.write(');');
  });
  file.formatText({ indentSize: 2, convertTabsToSpaces: true });
  // The formatter drops blank lines between statements; one after the import reads better.
  file.insertText(file.getStatements()[1]!.getStart(), '\n');
  file.insertText(0, header(options.commands ?? { start: 'npm start', test: 'npm test' }));
  return file.getFullText();
}

const header = (commands: { start: string; test: string }) => `// The pipeline: which SnapEngage resources to load into DuckDB, and how. \`${commands.start}\` runs it; \`${commands.test}\`
// runs it against the local sandbox. Every option is documented on PipelineConfig (hover \`definePipeline\`).
`;

function refuse(reason: string): never {
  throw new PipelineEditError(
    `cannot edit ${PIPELINE_FILE} safely: ${reason}. Add the resources by hand (see README.md, "Add a resource").`,
  );
}

/** The `resources: { ... }` object of the one `definePipeline({ ... })` call, or a refusal naming what is off. */
function findResourcesObject(file: ReturnType<Project['createSourceFile']>): ObjectLiteralExpression {
  const calls = file
    .getDescendantsOfKind(SyntaxKind.CallExpression)
    .filter((call) => call.getExpression().getText() === 'definePipeline');
  if (calls.length !== 1) refuse(`expected one definePipeline(...) call, found ${calls.length}`);
  const config = calls[0]!.getArguments()[0];
  if (!config || !Node.isObjectLiteralExpression(config)) refuse('definePipeline(...) is not given an object literal');
  // By name however written (`'resources'` too). A second one, or a spread after it, is what the loader reads instead:
  // an entry added here would be said "Added" and never load.
  const properties = config.getProperties();
  const named = properties.filter((p) => entryName(p) === 'resources');
  if (named.length > 1) refuse(`the config has ${named.length} \`resources\` properties, and only the last one is read`);
  const property = named[0];
  if (!property || !Node.isPropertyAssignment(property)) refuse('the config has no `resources: { ... }` property');
  const spreadAfter = properties.slice(properties.indexOf(property) + 1).find((p) => Node.isSpreadAssignment(p));
  if (spreadAfter) refuse(`\`${spreadAfter.getText().slice(0, 40)}\` comes after \`resources\` and may replace it`);
  const resources = property.getInitializer();
  if (!resources || !Node.isObjectLiteralExpression(resources)) refuse('`resources` is not an object literal');
  for (const entry of resources.getProperties()) {
    // A spread or computed key hides which resources are already there.
    if (!Node.isPropertyAssignment(entry) && !Node.isShorthandPropertyAssignment(entry)) {
      refuse(`\`resources\` contains \`${entry.getText().slice(0, 40)}\``);
    }
    if (Node.isPropertyAssignment(entry) && Node.isComputedPropertyName(entry.getNameNode())) {
      refuse(`\`resources\` has a computed key \`${entry.getNameNode().getText()}\``);
    }
  }
  return resources;
}

/** The name an entry of `resources` has, however it is written (`logs`, `'logs'`, shorthand). */
function entryName(entry: Node): string | null {
  if (Node.isPropertyAssignment(entry)) {
    const nameNode = entry.getNameNode();
    return Node.isStringLiteral(nameNode) ? nameNode.getLiteralValue() : nameNode.getText();
  }
  return Node.isShorthandPropertyAssignment(entry) ? entry.getName() : null;
}

/** `chat_poll: undefined` (or `void 0`): the key is there but the loader treats the resource as not configured. */
function isUnset(entry: Node): entry is PropertyAssignment {
  if (!Node.isPropertyAssignment(entry)) return false;
  const value = entry.getInitializer()?.getText().replace(/\s+/g, ' ');
  return value === 'undefined' || value === 'void 0';
}

/** `chat_poll: { selected: false, ... }`: configured, and switched off by the user. */
function isSwitchedOff(entry: Node): boolean {
  if (!Node.isPropertyAssignment(entry)) return false;
  const value = entry.getInitializer();
  if (!value || !Node.isObjectLiteralExpression(value)) return false;
  // By name however written (`'selected': false` too), and through `as const` or parentheses, as the loader reads it.
  const selected = value.getProperties().find((property) => entryName(property) === 'selected');
  if (selected === undefined || !Node.isPropertyAssignment(selected)) return false;
  let flag = selected.getInitializer();
  while (flag && (Node.isAsExpression(flag) || Node.isParenthesizedExpression(flag) || Node.isSatisfiesExpression(flag))) flag = flag.getExpression();
  return flag?.getKind() === SyntaxKind.FalseKeyword;
}

/** The whitespace that starts the line `node` starts on. */
function indentOf(node: Node): string {
  const text = node.getSourceFile().getFullText();
  const lineStart = text.lastIndexOf('\n', node.getStart() - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

export interface AddResult {
  text: string;
  added: string[];
  alreadyPresent: string[];
  /** Of alreadyPresent, those with `selected: false`: left as the user set them, and said so. */
  switchedOff: string[];
}

/** Adds resources to an existing src/pipeline.ts, touching nothing but the `resources` object's new entries. */
export function addResourcesToSource(text: string, toAdd: readonly ResourceChoice[], startDate: string | null): AddResult {
  const project = newProject();
  const file = project.createSourceFile('pipeline.ts', text);
  const syntaxErrors = project.getProgram().getSyntacticDiagnostics(file);
  if (syntaxErrors.length > 0) refuse(`it does not parse (line ${syntaxErrors[0]!.getLineNumber() ?? '?'})`);
  const resources = findResourcesObject(file);
  const entries = new Map(resources.getProperties().map((entry) => [entryName(entry), entry] as const));
  const unset = toAdd.filter((c) => { const entry = entries.get(c.name); return entry !== undefined && isUnset(entry); });
  const added = toAdd.filter((c) => !entries.has(c.name));
  const alreadyPresent = toAdd.filter((c) => entries.has(c.name) && !unset.includes(c)).map((c) => c.name);
  const switchedOff = alreadyPresent.filter((name) => isSwitchedOff(entries.get(name)!));
  if (added.length === 0 && unset.length === 0) return { text, added: [], alreadyPresent, switchedOff };

  const before = resources.getText();
  const multiline = before.includes('\n');
  // Read from the tokens, not the text: a comment after the last comma (`logs: true, // mine`) hid it from a regex.
  const lastEntry = resources.getProperties().at(-1);
  const trailingComma = lastEntry === undefined || lastEntry.getNextSiblingIfKind(SyntaxKind.CommaToken) !== undefined;
  // New entries take the file's indent step (4 spaces, a tab), not ours, so they line up with the entries there.
  if (multiline && lastEntry) {
    const step = indentOf(lastEntry).slice(indentOf(resources.getParentOrThrow()).length);
    const setting = { '\t': IndentationText.Tab, '  ': IndentationText.TwoSpaces, '    ': IndentationText.FourSpaces, '        ': IndentationText.EightSpaces }[step];
    if (setting) project.manipulationSettings.set({ indentationText: setting });
  }
  // And its quotes: a file formatted with double quotes (Prettier's default) gets `"2025-01-01"`, not `'2025-01-01'`.
  const quotes = file.getDescendantsOfKind(SyntaxKind.StringLiteral).map((literal) => literal.getText()[0]);
  if (quotes.filter((q) => q === '"').length > quotes.filter((q) => q === "'").length) project.manipulationSettings.set({ quoteKind: QuoteKind.Double });
  // And its line ends: a Windows checkout (git's autocrlf) got LF-only lines among its CRLF ones.
  if (text.includes('\r\n')) project.manipulationSettings.set({ newLineKind: NewLineKind.CarriageReturnLineFeed });
  // An entry set to `undefined` gets its value in place: a second key of the same name would not compile.
  for (const choice of unset) (entries.get(choice.name) as PropertyAssignment).setInitializer(writeEntry(choice, startDate));
  // Right after the last entry, not after comment lines that follow it (`// widgets: true,`, a resource switched off
  // by commenting it out): ts-morph counts those as members, and adding after one doubled the last entry's comma.
  const at = lastEntry === undefined ? resources.getPropertiesWithComments().length : resources.getPropertiesWithComments().indexOf(lastEntry) + 1;
  resources.insertPropertyAssignments(
    at,
    added.map((choice) => ({ name: propertyName(choice.name), initializer: writeEntry(choice, startDate), leadingTrivia: `${commentLine(choice)}\n` })),
  );
  if (trailingComma && added.length > 0) {
    const last = resources.getProperties().at(-1)!;
    file.insertText(last.getEnd(), ',');
  }
  if (!multiline) findResourcesObject(file).formatText({ indentSize: 2, convertTabsToSpaces: true });
  return { text: file.getFullText(), added: toAdd.filter((c) => added.includes(c) || unset.includes(c)).map((c) => c.name), alreadyPresent, switchedOff };
}

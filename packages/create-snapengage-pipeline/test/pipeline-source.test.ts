import { describe, expect, it } from 'vitest';
import { loadCatalog, withParents } from '../src/catalog.js';
import { addResourcesToSource, PipelineEditError, renderPipelineSource } from '../src/pipeline-source.js';
import { pipelineResources } from './helpers.js';

const catalog = loadCatalog();
const pick = (...names: string[]) => catalog.filter((c) => names.includes(c.name));
const commentOf = (name: string) => {
  const c = catalog.find((r) => r.name === name)!;
  return `// ${c.description}${c.credentialEnv ? ` Needs ${c.credentialEnv}.` : ''}`;
};

describe('renderPipelineSource', () => {
  it('writes exactly the chosen resources, with the start date on incremental ones only', () => {
    const text = renderPipelineSource({ resources: pick('logs', 'widgets'), startDate: '2025-03-01' });
    expect(text).toContain("import { definePipeline } from 'snapengage-pipeline';");
    expect(text).toContain("logs: { incremental: { startDate: '2025-03-01' } },");
    expect(text).toContain('widgets: true,');
    expect(text).not.toMatch(/chat_poll|users:/);
  });

  it('parents come along with their children', () => {
    expect(withParents(['chat_poll'], catalog)).toEqual(['logs', 'chat_poll']);
  });
});

const userFile = `// My pipeline. Hand-edited.
import { definePipeline } from 'snapengage-pipeline';

const onlyChats = (r: { type?: string | null }) => r.type === 'chat';

export default definePipeline({
  pipelineName: 'mine', // renamed
  resources: {
    /* keep me */
    logs: { incremental: { startDate: '2024-06-01', lookbackDays: 3 }, steps: [{ filter: onlyChats }] },
  },
  concurrency: 2,
});

export const extra = 42;
`;

describe('addResourcesToSource', () => {
  it('adds the new resources and leaves every other byte of the user file intact', () => {
    const result = addResourcesToSource(userFile, pick('chat_poll', 'logs'), null);
    expect(result.added).toEqual(['chat_poll']);
    expect(result.alreadyPresent).toEqual(['logs']);
    const [head, tail] = userFile.split("lookbackDays: 3 }, steps: [{ filter: onlyChats }] },\n") as [string, string];
    expect(result.text.startsWith(`${head}lookbackDays: 3 }, steps: [{ filter: onlyChats }] },\n`)).toBe(true);
    expect(result.text).toMatch(/\n {4}\/\/ The chat messages[^\n]*\n {4}chat_poll: true,\n {2}},\n/);
    expect(result.text.endsWith(tail.slice(tail.indexOf('  },\n')))).toBe(true);
  });

  it('indents new entries as the file does and keeps its trailing comma when a comment follows it', () => {
    const text = [
      'import { definePipeline } from "snapengage-pipeline"',
      'export default definePipeline({',
      '    resources: {',
      '        logs: true, // mine',
      '    }',
      '})',
      '',
    ].join('\n');
    const result = addResourcesToSource(text, pick('widgets'), null);
    expect(result.text).toBe(
      text.replace('// mine\n', `// mine\n        ${commentOf('widgets')}\n        widgets: true,\n`),
    );
  });

  it('adds after the last entry, not after comment lines below it (a resource commented out), with one comma each', () => {
    const text = [
      "import { definePipeline } from 'snapengage-pipeline';",
      'export default definePipeline({',
      '  resources: {',
      '    logs: true,',
      '    // chat_poll: true,',
      '  },',
      '});',
      '',
    ].join('\n');
    const result = addResourcesToSource(text, pick('widgets', 'users'), null);
    expect(result.text).toBe(
      text.replace('    logs: true,\n', `    logs: true,\n    ${commentOf('widgets')}\n    widgets: true,\n    ${commentOf('users')}\n    users: true,\n`),
    );
  });

  it('writes CRLF line ends in a CRLF file (a Windows checkout), not LF lines among them', () => {
    const text = "import { definePipeline } from 'snapengage-pipeline';\r\nexport default definePipeline({\r\n  resources: {\r\n    logs: true,\r\n  },\r\n});\r\n";
    const result = addResourcesToSource(text, pick('widgets'), null);
    expect(result.text).toBe(text.replace('    logs: true,\r\n', `    logs: true,\r\n    ${commentOf('widgets')}\r\n    widgets: true,\r\n`));
  });

  it("writes a start date in the file's quotes (double in a Prettier-formatted file, single otherwise)", () => {
    const double = 'import { definePipeline } from "snapengage-pipeline";\nexport default definePipeline({\n  destination: { type: "duckdb", path: "x.duckdb" },\n  resources: {\n    widgets: true,\n  },\n});\n';
    expect(addResourcesToSource(double, pick('logs'), '2025-01-01').text).toContain('logs: { incremental: { startDate: "2025-01-01" } },');
    expect(addResourcesToSource(double.replaceAll('"', "'"), pick('logs'), '2025-01-01').text).toContain("logs: { incremental: { startDate: '2025-01-01' } },");
  });

  it('is a no-op when every resource is already there', () => {
    const result = addResourcesToSource(userFile, pick('logs'), null);
    expect(result).toEqual({ text: userFile, added: [], alreadyPresent: ['logs'], switchedOff: [] });
  });

  it('fills an entry set to undefined in place (the loader reads it as absent) and names one switched off', () => {
    const text = [
      "import { definePipeline } from 'snapengage-pipeline';",
      'export default definePipeline({',
      '  resources: {',
      '    logs: true,',
      '    chat_poll: undefined, // later',
      '    widgets: { selected: false },',
      '  },',
      '});',
      '',
    ].join('\n');
    const result = addResourcesToSource(text, pick('chat_poll', 'widgets', 'logs'), null);
    expect(result.added).toEqual(['chat_poll']);
    expect([...result.alreadyPresent].sort()).toEqual(['logs', 'widgets']);
    expect(result.switchedOff).toEqual(['widgets']);
    // One chat_poll key (a second one would not compile), with the value a new entry gets; everything else as it was.
    expect(result.text).toBe(text.replace('chat_poll: undefined,', 'chat_poll: true,'));
  });

  it('fills an entry set to `void 0` in place too, as the loader reads it as absent', () => {
    const text = "import { definePipeline } from 'snapengage-pipeline';\nexport default definePipeline({\n  resources: {\n    logs: true,\n    chat_poll: void 0,\n  },\n});\n";
    const result = addResourcesToSource(text, pick('chat_poll'), null);
    expect(result.added).toEqual(['chat_poll']);
    expect(result.text).toBe(text.replace('chat_poll: void 0,', 'chat_poll: true,'));
  });

  it("keeps the file's comma style: none after the last entry stays none; an empty object gets the house style", () => {
    const bare = "import { definePipeline } from 'snapengage-pipeline';\nexport default definePipeline({\n  resources: {\n    logs: true\n  },\n});\n";
    expect(addResourcesToSource(bare, pick('widgets'), null).text).toBe(bare.replace('    logs: true\n', `    logs: true,\n    ${commentOf('widgets')}\n    widgets: true\n`));
    const empty = "import { definePipeline } from 'snapengage-pipeline';\nexport default definePipeline({\n  resources: {\n  },\n});\n";
    expect(addResourcesToSource(empty, pick('widgets'), null).text).toBe(empty.replace('  resources: {\n', `  resources: {\n    ${commentOf('widgets')}\n    widgets: true,\n`));
  });

  it('keeps a multi-line description on its comment line, so the entry after it is not commented out', () => {
    const widgets = { ...pick('widgets')[0]!, description: 'Widgets.\nSecond line\r\nthird.' };
    const base = "import { definePipeline } from 'snapengage-pipeline';\nexport default definePipeline({\n  resources: {\n    logs: true,\n  },\n});\n";
    for (const text of [addResourcesToSource(base, [widgets], null).text, renderPipelineSource({ resources: [widgets], startDate: null })]) {
      expect(text).toMatch(/\n {4}\/\/ Widgets\. Second line third\.[^\n]*\n {4}widgets: true,\n/);
      // Read back: the entry is there, not hidden in a comment.
      expect(addResourcesToSource(text, [widgets], null).alreadyPresent).toEqual(['widgets']);
    }
  });

  it('names an entry switched off however the key and value are written (quoted key, as const)', () => {
    const text = [
      "import { definePipeline } from 'snapengage-pipeline';",
      'export default definePipeline({',
      '  resources: {',
      "    widgets: { 'selected': false },",
      '    users: { selected: false as const },',
      '    logs: { selected: (false) },',
      '  },',
      '});',
      '',
    ].join('\n');
    const result = addResourcesToSource(text, pick('widgets', 'users', 'logs'), null);
    expect([...result.switchedOff].sort()).toEqual(['logs', 'users', 'widgets']);
    expect(result.text).toBe(text);
  });

  it('expands a one-line resources object', () => {
    const text = "import { definePipeline } from 'snapengage-pipeline';\nexport default definePipeline({ resources: { logs: true } });\n";
    const result = addResourcesToSource(text, pick('widgets'), null);
    expect(result.text).toMatch(/resources: \{\n\s+logs: true,\n\s+\/\/ Name, transcript[^\n]*\n\s+widgets: true,?\n\s+\}/);
  });

  it.each([
    ['no definePipeline call', 'export default { resources: {} };'],
    ['two definePipeline calls', 'definePipeline({ resources: {} }); definePipeline({ resources: {} });'],
    ['a config variable', 'const c = { resources: {} }; export default definePipeline(c);'],
    ['resources from a variable', 'const r = {}; export default definePipeline({ resources: r });'],
    ['a spread in resources', 'const r = {}; export default definePipeline({ resources: { ...r } });'],
    ['a syntax error', 'export default definePipeline({ resources: { logs: true }'],
  ])('refuses a file with %s, naming the problem', (_label, text) => {
    expect(() => addResourcesToSource(text, pick('widgets'), null)).toThrow(PipelineEditError);
    expect(() => addResourcesToSource(text, pick('widgets'), null)).toThrow(/cannot edit src\/pipeline\.ts safely: .+/);
  });

  // Each was edited and "Added widgets" said, but the entry went into a `resources` object the loader never reads.
  it.each([
    ['a spread after resources, which may replace it', "import { shared } from './shared.js';\nexport default definePipeline({ resources: { logs: true }, ...shared });", /`\.\.\.shared` comes after `resources` and may replace it/],
    ['two resources properties, the last one read', "export default definePipeline({ resources: { logs: true }, 'resources': { users: true } });", /the config has 2 `resources` properties/],
  ])('refuses a config with %s', (_label, text, reason) => {
    expect(() => addResourcesToSource(text, pick('widgets'), null)).toThrow(reason);
  });

  it('edits a config whose spread comes before resources (resources wins), and a quoted resources key', () => {
    const spread = "const base = {};\nexport default definePipeline({ ...base, resources: { logs: true } });\n";
    expect(pipelineResources(addResourcesToSource(spread, pick('widgets'), null).text)).toEqual(['logs', 'widgets']);
    // Refused before as having "no `resources: { ... }` property".
    const quoted = "export default definePipeline({ 'resources': { logs: true } });\n";
    expect(addResourcesToSource(quoted, pick('widgets'), null).added).toEqual(['widgets']);
  });
});

// Strings from outside (ids in SNAPENGAGE_* variables, flags, names kept in the DuckDB file) printed by the CLI: none
// of their terminal controls reach the terminal. An ESC sequence can clear the screen, set the title or write the
// clipboard (OSC 52), a carriage return prints over the line, a bidi override reorders what is read. The API's own text
// (error bodies, record values, hostile keys) is covered where it is quoted (show.test.ts, schema-evolution.test.ts).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { describeSampled, describeWindows } from '../src/cursor.js';
import { envListProblem } from '../src/env.js';
import { terminalJson, terminalText } from '../src/terminal.js';
import { query, runCli, sandbox, tempDir, withQueries } from './helpers.js';

/** What a terminal acts on: C0 but the line break and the tab, DEL, C1, bidi marks, overrides and isolates. */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
/** Clears the screen, homes the cursor, reverses the rest of the line, then a CSI (C1) moving the cursor up. */
const HOSTILE = 'w\x1b[2J\x1b[H\u202eevil\u009b1A';
const ESCAPED = 'w\\u001b[2J\\u001b[H\\u202eevil\\u009b1A';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;

beforeAll(async () => {
  box = await sandbox({ cases: 6, widgets: 1, days: 2 });
  tmp = tempDir('injection-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const env = (extra: Record<string, string> = {}) => ({ ...box.env, SNAPENGAGE_DUCKDB_THREADS: '1', ...extra });

describe('the CLI prints no terminal control of a string from outside', () => {
  it('a widget id of SNAPENGAGE_WIDGET_ID the API does not know: the failure names it escaped', async () => {
    // A file loaded once: the failed run below is then recorded in it (a first run that fails leaves no file).
    const first = await runCli(['run', '--resources', 'logs', '--duckdb', join(tmp.dir, 'widget.duckdb')], { env: env(), cwd: tmp.dir });
    expect(first.code, first.stderr).toBe(0);
    const result = await runCli(['run', '--resources', 'logs', '--duckdb', join(tmp.dir, 'widget.duckdb')], {
      env: env({ SNAPENGAGE_WIDGET_ID: `${box.env.SNAPENGAGE_WIDGET_ID},${HOSTILE}` }), cwd: tmp.dir,
    });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(ESCAPED);
    expect(result.stderr).not.toMatch(CONTROLS);
    // The failed load's error as kept in the file (and an app's error.message): no CLI escapes it there.
    const [load] = await query(join(tmp.dir, 'widget.duckdb'), `SELECT string_agg(error, ' ') AS error FROM snapengage_data._pipeline_loads WHERE error IS NOT NULL`);
    expect(load?.error).toContain(ESCAPED);
    expect(load?.error).not.toMatch(CONTROLS);
  });

  it('run --json: the LOADED document escapes a --duckdb path as JSON does, so it parses to the same location', async () => {
    const path = join(tmp.dir, `json${HOSTILE}.duckdb`);
    const result = await runCli(['run', '--json', '--resources', 'logs', '--duckdb', path], { env: env(), cwd: tmp.dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(CONTROLS);
    expect((JSON.parse(result.stdout) as { location: string }).location).toContain(`json${HOSTILE}.duckdb`);
  });

  it('a flag value (--limit-pages, --config) is quoted escaped in the error line', async () => {
    for (const args of [['run', '--limit-pages', `1${HOSTILE}`], ['run', '--config', join(tmp.dir, `${HOSTILE}.ts`)]]) {
      const result = await runCli(args, { env: env(), cwd: tmp.dir });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(ESCAPED);
      expect(result.stderr).not.toMatch(CONTROLS);
    }
  });

  it('run --json: the FAILED document escapes them as JSON does, so it parses to the same message', async () => {
    const result = await runCli(['run', '--json', '--config', join(tmp.dir, `${HOSTILE}.ts`)], { env: env(), cwd: tmp.dir });
    expect(result.code).toBe(2);
    expect(result.stdout).not.toMatch(CONTROLS);
    const document = JSON.parse(result.stdout) as { error: { message: string } };
    // The message names the file as it is: the escapes are the JSON's, not the text's.
    expect(document.error.message).toContain(`${HOSTILE}.ts`);
  });

  it('the load info names a --duckdb path with an emoji ZWJ sequence or a Persian joiner as it was given', async () => {
    const name = '👨\u200d👩\u200d👧 می\u200cخواهم.duckdb';
    const result = await runCli(['run', '--resources', 'logs', '--duckdb', join(tmp.dir, name)], { env: env(), cwd: tmp.dir });
    expect(result.code, result.stderr).toBe(0);
    // Inside the working directory: `duckdb:/<name>`, which `--duckdb` reads back as the same file.
    expect(result.stdout).toContain(`duckdb:/${name} location`);
  });

  it('show: a widget id kept in the incremental state (and a --duckdb path) is escaped', async () => {
    const path = join(tmp.dir, `state${HOSTILE}.duckdb`);
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', path], { env: env(), cwd: tmp.dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(CONTROLS);
    // As a run keyed by such an id would have kept it (a .env line, an id pasted from a web page).
    await withQueries(path, (sql) => sql(`UPDATE snapengage_data._pipeline_state
      SET state = json_object('windows', json_object('${HOSTILE.replaceAll("'", "''")}', json_object('lastEnd', '2026-01-02')))`), 'READ_WRITE');
    const show = await runCli(['show', '--duckdb', path], { env: env(), cwd: tmp.dir });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`  logs  ${ESCAPED}  lastEnd 2026-01-02`);
    expect(show.stdout).not.toMatch(CONTROLS);
  });
});

describe('messages of the library quote outside strings escaped (an app prints error.message and the load info as they are)', () => {
  it('envListProblem: JSON.stringify left the C1 CSI and the bidi override of an id as they were', () => {
    const problem = envListProblem({ SNAPENGAGE_WIDGET_ID: `a,${HOSTILE}'` }, 'SNAPENGAGE_WIDGET_ID');
    expect(problem).toContain(`${ESCAPED}'`);
    expect(problem).not.toMatch(CONTROLS);
  });

  it('describeWindows (show and the load info): the widget ids that key the windows', () => {
    const few = describeWindows('logs', { [HOSTILE]: { lastEnd: '2026-01-02' } }, 'widget');
    const many = describeWindows('logs', Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`${HOSTILE}${i}`, { lastEnd: '2026-01-02' }])), 'widget');
    for (const lines of [few, many]) {
      expect(lines.join('\n')).toContain(ESCAPED);
      expect(lines.join('\n')).not.toMatch(CONTROLS);
    }
  });

  it('envListProblem: a list of no item quotes its value escaped (a BOM and a line separator JSON.stringify left)', () => {
    const problem = envListProblem({ SNAPENGAGE_WIDGET_ID: ',\ufeff,\u2028,' }, 'SNAPENGAGE_WIDGET_ID');
    expect(problem).toContain('holds no item (got ",\\ufeff,\\u2028,")');
  });

  it('describeSampled (show after --limit-pages): the widget ids of the sampled windows', () => {
    const lines = describeSampled('logs', { [HOSTILE]: { firstStart: '2026-01-02' } }, 'widget');
    expect(lines).toEqual([`  logs  ${ESCAPED}  sampled from 2026-01-02 (--limit-pages)`]);
  });

  it('terminalText: every control escaped but the line break (CR LF too) and the tab, which lay out what it prints', () => {
    expect(terminalText(`a\tb\r\n${HOSTILE}\n\rc\r`)).toBe(`a\tb\r\n${ESCAPED}\n\\u000dc\\u000d`);
  });

  it('terminalText: joiners that are text stay (emoji ZWJ sequences, Persian and Hindi joiners, a subdivision flag)', () => {
    const text = ['👨\u200d👩\u200d👧', '❤\ufe0f\u200d🔥', '👍🏽\u200d', 'می\u200cخواهم', 'क्\u200dष', '🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}', '漢字'].join(' ');
    // The trailing ZWJ after 👍🏽 joins nothing: escaped, as one between ASCII letters and a lone tag character are.
    expect(terminalText(text)).toBe(text.replace('👍🏽\u200d', '👍🏽\\u200d'));
    expect(terminalText('ab\u200dcd \u200c\u{e0041}')).toBe('ab\\u200dcd \\u200c\\u{e0041}');
  });

  it('terminalJson: the same document to a parser, beyond U+FFFF too (a tag character as its surrogate pair)', () => {
    const value = { s: `${HOSTILE}\u2028\u{e0041}\u00ad\u007f é 😀`, [`k\u202e`]: 1 };
    const line = terminalJson(JSON.stringify(value));
    expect(line).not.toMatch(CONTROLS);
    expect(line).not.toMatch(/[\u2028\u00ad\u{e0041}]/u);
    expect(line).toContain('é 😀');
    expect(JSON.parse(line)).toEqual(value);
  });
});

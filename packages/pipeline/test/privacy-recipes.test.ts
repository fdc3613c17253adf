// PRIVACY.md's recipes, run as written: its src/pipeline.ts in a project that runs the CLI (a child process per run,
// so the erasure list is read afresh, as cron would), and its SQL blocks on the real DuckDB file, against the
// sandbox over loopback. Replaced: the example email (by a sandbox visitor's), the copy's file name (by an absolute path:
// DuckDB resolves a relative one from the test process's directory) and getenv() (the DuckDB CLI's only) by the key.
// Added: no rate limit (the default 10 requests/s held each full load's ~27 requests ~1 s; the recipes are not about it).
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/run.js';
import { PACKAGE_DIR, admin, query, runCli, sandbox, tempDir, truth, withQueries, type TruthCase } from './helpers.js';

const DOC = readFileSync(join(PACKAGE_DIR, 'PRIVACY.md'), 'utf8');
const RECIPE_CONFIG = /```ts\n([\s\S]*?)```/.exec(DOC)![1]!;
const CONFIG = RECIPE_CONFIG.replace(/\n\}\);\n$/, '\n  rateLimit: { requestsPerSecond: 0 },\n});\n');
const SQL = new Map([...DOC.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => [/^-- (.*)$/m.exec(m[1]!)![1]!, m[1]!]));
const KEY = 'test-key-7f3a';
const DATASET = 'snapengage_data';

/** The recipe's pseudonym, computed here independently of the config. */
const pseudonym = (email: string) => createHash('sha256').update(`${KEY}:${email.toLowerCase()}`).digest('hex');
const emailsOf = (c: TruthCase) => [c.requested_by, ...((c.requester_details as { emails?: unknown[] } | null)?.emails ?? [])].filter((e): e is string => typeof e === 'string' && e !== '');

/** The email of the newest case that has one in `requested_by`: the visitor the erasure test erases. */
const newestEmail = (all: TruthCase[]) =>
  [...all].filter((c) => typeof c.requested_by === 'string').sort((a, b) => Number(b.created_at_seconds) - Number(a.created_at_seconds))[0]!.requested_by as string;
/** PRIVACY.md's query for cases where a visitor typed their email (inline, after the erasure recipe). */
const TYPED = /`(INSERT INTO erased [^`]*)`/.exec(DOC)![1]!;

/** Splits a recipe into statements (none of them holds a `;` inside a literal). */
const statements = (sql: string) => sql.split(/;\s*\n/).map((s) => s.replace(/^--.*$/gm, '').trim()).filter(Boolean);
/** The key block as the DuckDB CLI runs it with SNAPENGAGE_PSEUDONYM_KEY=`key` in its environment. */
const keyStatements = (key: string) => statements(SQL.get('the pseudonym key')!.replaceAll("getenv('SNAPENGAGE_PSEUDONYM_KEY')", `'${key}'`));

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let project: string;
let db: string;
let cases: TruthCase[];

beforeAll(async () => {
  box = await sandbox({ cases: 24, widgets: 1, days: 3 });
  // An anonymous chat in which the visitor the erasure test picks typed their email (in capitals: the steps leave
  // messages as written, and the check of the steps looks for emails as the API gives them).
  const email = newestEmail(await truth(box));
  await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID, cases: [{
    requested_by: null, requester_details: { name: 'Visitor', emails: [] },
    transcripts: [{ id: '', date: 1795744797024, alias: 'Visitor', message: `reach me at ${email.toUpperCase()} please` }],
  }] });
  cases = await truth(box);
  tmp = tempDir('privacy-');
  project = join(tmp.dir, 'project');
  mkdirSync(join(project, 'src'), { recursive: true });
  symlinkSync(join(PACKAGE_DIR, '../../node_modules'), join(project, 'node_modules'), 'dir');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'privacy-project', private: true, type: 'module' }));
  writeFileSync(join(project, 'src', 'pipeline.ts'), CONFIG);
  writeFileSync(join(project, 'erased-cases.txt'), '');
  db = join(project, 'snapengage.duckdb');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

interface RunJson { status: string; rowCounts: Record<string, number>; unchangedRecords: Record<string, number> }
async function run(...args: string[]): Promise<{ json: RunJson; stderr: string }> {
  const env = { ...box.env, SNAPENGAGE_PSEUDONYM_KEY: KEY, SNAPENGAGE_DUCKDB_THREADS: '1' };
  const result = await runCli(['run', '--json', ...args], { cwd: project, env });
  expect(result.stderr.includes('Error') ? result.stderr : '', 'the run failed').toBe('');
  expect(result.code).toBe(0);
  return { json: JSON.parse(result.stdout.trim().split('\n').at(-1)!) as RunJson, stderr: result.stderr };
}

/** Every stored text (every column of every table, cast to text) that holds one of the visitors' emails or IPs. */
async function personalDataIn(path: string): Promise<string[]> {
  const needles = [...new Set(cases.flatMap((c) => [...emailsOf(c), c.ip_address]).filter((v): v is string => typeof v === 'string' && v !== ''))];
  return withQueries(path, async (sql) => {
    const found: string[] = [];
    for (const { s, t, c } of await sql(`SELECT table_schema s, table_name t, column_name c FROM information_schema.columns WHERE table_catalog = current_database()`)) {
      const values = await sql(`SELECT DISTINCT CAST("${c}" AS VARCHAR) v FROM "${s}"."${t}" WHERE "${c}" IS NOT NULL`);
      for (const { v } of values) if (needles.some((n) => String(v).includes(n))) found.push(`${t}.${c}`);
    }
    return [...new Set(found)];
  });
}

const count = async (path: string, table: string, where = 'true') =>
  (await query(path, `SELECT count(*)::INTEGER n FROM ${DATASET}.${table} WHERE ${where}`))[0]!.n as number;

describe('PRIVACY.md', () => {
  it('has the config and its three SQL recipes', () => {
    expect([...SQL.keys()]).toEqual(['the pseudonym key', 'apply the steps to rows loaded before them', 'erase one visitor', 'rewrite the file without the freed blocks']);
    expect(CONFIG).toContain("from 'snapengage-pipeline'");
    expect(CONFIG, 'the rate limit added at the end of definePipeline({ ... })').not.toBe(RECIPE_CONFIG);
  });

  it('the steps store no IP and no email anywhere, the same pseudonym on every run, and --verbose prints neither', async () => {
    const fresh = join(project, 'fresh.duckdb');
    const first = await run('--duckdb', fresh, '--verbose');
    expect(first.json.rowCounts.logs).toBe(cases.length);
    expect(await personalDataIn(fresh)).toEqual([]);
    expect(await count(fresh, 'logs', 'ip_address IS NOT NULL')).toBe(0);
    const stored = await query(fresh, `SELECT id, requested_by FROM ${DATASET}.logs`);
    const byId = new Map(stored.map((r) => [r.id, r.requested_by]));
    for (const c of cases) expect(byId.get(c.id)).toBe(typeof c.requested_by === 'string' ? pseudonym(c.requested_by) : null);
    const needles = cases.flatMap((c) => [...emailsOf(c), String(c.ip_address)]);
    expect(needles.filter((n) => first.stderr.includes(n))).toEqual([]);
    expect(first.stderr).toContain('GET '); // it did print the requests
    const again = await run('--duckdb', fresh);
    expect(again.json.rowCounts.logs ?? 0).toBe(0);
    expect(again.json.unchangedRecords.logs).toBeGreaterThan(0);
  });

  it('rows loaded before the steps: the UPDATE gives them the pseudonyms the map gives, and reruns find them unchanged', async () => {
    await runPipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path: db } });
    expect((await personalDataIn(db)).length).toBeGreaterThan(0); // the plain load holds them
    const update = statements(SQL.get('apply the steps to rows loaded before them')!);
    // Without the key the session stops at its first statement, before the UPDATE could hash with none.
    await expect(withQueries(db, async (sql) => { for (const s of [...keyStatements(''), ...update]) await sql(s); }, 'READ_WRITE')).rejects.toThrow('SNAPENGAGE_PSEUDONYM_KEY is not set');
    await withQueries(db, async (sql) => { for (const s of [...keyStatements(KEY), ...update]) await sql(s); }, 'READ_WRITE');
    await withQueries(db, async (sql) => { for (const s of [...keyStatements(KEY), ...update]) await sql(s); }, 'READ_WRITE'); // twice: hashed once
    expect(await personalDataIn(db)).toEqual([]);
    const emails = await query(db, `SELECT id, requester_details__emails e FROM ${DATASET}.logs`);
    const byId = new Map(emails.map((r) => [r.id, r.e]));
    for (const c of cases) expect(byId.get(c.id) ?? []).toEqual(((c.requester_details as { emails?: string[] } | null)?.emails ?? []).map(pseudonym));
    const rerun = await run();
    expect(rerun.json.rowCounts.logs ?? 0).toBe(0);
    expect(rerun.json.unchangedRecords.logs).toBeGreaterThan(0);
  });

  it('an erased visitor stays erased through the lookback, --refresh and a child refresh, and the copy holds no byte of them', async () => {
    const email = newestEmail(cases);
    // Their cases: by the email fields, and the anonymous chat where they typed it.
    const typed = (c: TruthCase) => (c.transcripts ?? []).some((t) => String(t.message).toLowerCase().includes(email.toLowerCase()));
    const theirs = cases.filter((c) => emailsOf(c).some((e) => e.toLowerCase() === email.toLowerCase()) || typed(c)).map((c) => c.id);
    expect(cases.filter(typed)).toHaveLength(1);
    // Texts of the erased cases no other case holds (their viewcase URL at least), to look for in the file's bytes.
    const textsOf = (c: TruthCase) => JSON.stringify(c).match(/"(?:[^"\\]|\\.){16,}"/g) ?? [];
    const others = new Set(cases.filter((c) => !theirs.includes(c.id)).flatMap(textsOf));
    const unique = cases.filter((c) => theirs.includes(c.id)).flatMap(textsOf).filter((t) => !others.has(t)).map((t) => JSON.parse(t) as string);
    const inFile = () => { const bytes = readFileSync(db); return unique.filter((t) => bytes.includes(t)); };
    const before = { logs: await count(db, 'logs'), chat_poll: await count(db, 'chat_poll') };
    expect(inFile().length, 'the file holds texts of theirs before').toBeGreaterThan(0);

    const erase = statements(SQL.get('erase one visitor')!.replace('olga.ivanova654@example.com', email));
    // The typed-email query goes before BEGIN, as the text says.
    erase.splice(erase.indexOf('BEGIN'), 0, TYPED.replaceAll('…', email.toLowerCase().replaceAll("'", "''")));
    const ids = await withQueries(db, async (sql) => {
      let last: Array<Record<string, unknown>> = [];
      for (const s of [...keyStatements(KEY), ...erase]) last = await sql(s);
      await sql('CHECKPOINT');
      return last.map((r) => String(r.id));
    }, 'READ_WRITE');
    expect(ids.sort()).toEqual(theirs.sort());
    appendFileSync(join(project, 'erased-cases.txt'), ids.map((id) => `${id}\n`).join(''));
    const inList = ids.map((id) => `'${id}'`).join(', ');
    // One connection for the five counts: opening the file for each cost ~20 ms, and this runs six times.
    const expectErased = (path: string) => withQueries(path, async (sql) => {
      const count = async (table: string, where = 'true') => (await sql(`SELECT count(*)::INTEGER n FROM ${DATASET}.${table} WHERE ${where}`))[0]!.n as number;
      expect(await count('logs', `id IN (${inList})`)).toBe(0);
      expect(await count('chat_poll', `case_id IN (${inList})`)).toBe(0);
      expect(await count('logs__transcripts', `_root_id NOT IN (SELECT _row_id FROM ${DATASET}.logs)`)).toBe(0);
      expect(await count('logs')).toBe(before.logs - ids.length);
      expect(await count('chat_poll')).toBe(before.chat_poll - ids.length);
    });
    await expectErased(db);
    expect(inFile().length, 'DuckDB keeps deleted values in freed blocks').toBeGreaterThan(0);

    const rerun = await run(); // re-reads the newest day, which holds the erased case
    expect(rerun.json.unchangedRecords.logs).toBeGreaterThan(0);
    await expectErased(db);
    await run('--refresh', '--resources', 'logs,chat_poll');
    await expectErased(db);
    await run('--refresh', '--resources', 'chat_poll');
    await expectErased(db);

    const copy = join(project, 'snapengage-new.duckdb');
    await withQueries(db, async (sql) => {
      for (const s of statements(SQL.get('rewrite the file without the freed blocks')!.replace('snapengage-new.duckdb', copy))) await sql(s);
    }, 'READ_WRITE');
    chmodSync(copy, 0o600);
    renameSync(copy, db);
    expect(inFile()).toEqual([]);
    await expectErased(db);
    const afterCopy = await run();
    expect(afterCopy.json.rowCounts.logs ?? 0).toBe(0);
    await expectErased(db);
  });

  it('a case whose root row alone was deleted by hand is stored again whole by the next run, its old child rows replaced', async () => {
    const erased = new Set(readFileSync(join(project, 'erased-cases.txt'), 'utf8').split('\n').filter(Boolean));
    const newest = [...cases].filter((c) => !erased.has(c.id) && (c.transcripts?.length ?? 0) > 0).sort((a, b) => Number(b.created_at_seconds) - Number(a.created_at_seconds))[0]!;
    const transcripts = await count(db, 'logs__transcripts');
    await query(db, `DELETE FROM ${DATASET}.logs WHERE id = '${newest.id}'`, 'READ_WRITE');
    // Without a filter for it, the lookback reads the deleted case again: why an erasure needs erased-cases.txt.
    const rerun = await run();
    expect(rerun.json.rowCounts.logs).toBe(1);
    expect(await count(db, 'logs', `id = '${newest.id}'`)).toBe(1);
    expect(await count(db, 'logs__transcripts')).toBe(transcripts);
    expect(await count(db, 'logs__transcripts', `_root_id IN (SELECT _row_id FROM ${DATASET}.logs WHERE id = '${newest.id}')`)).toBe(newest.transcripts!.length);
  });
});

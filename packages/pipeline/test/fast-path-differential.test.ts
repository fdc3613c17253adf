// Differential test of the normalizer's two routes: seeded records (fuzz/records.ts: the logs shape plus fields the
// spec does not declare, type conflicts, hostile keys and values) are loaded over three merges into one real DuckDB
// file with the fast paths (records and flat lists staged whole, flattened in SQL) and into another with every row
// staged one by one (merges, or appends that skip stored keys). Every table, column, type, id and the name mapping must
// be the same; every text and number of a record the disposition keeps must be found in that record's own rows (nothing
// dropped or left stale). What both paths share is checked too (sharedFaults): no child row outlives its record's
// rewrite, and the merge's compare leaves a record whose rows stay the same alone and rewrites one whose rows change.
// A failure names the seed:
// `DIFF_SEEDS=17 npx vitest run test/fast-path-differential.test.ts` replays it, `DIFF_SEEDS=1-200` searches more.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resources } from 'snapengage-client';
import { DuckDBDestination } from '../src/destination/index.js';
import type { SchemaContractModes } from '../src/normalize/contract.js';
import { RecordGenerator } from './fuzz/records.js';
import { tempDir, withQueries } from './helpers.js';

type Obj = Record<string, unknown>;
const LOADS = 3;
const PER_LOAD = 40;

interface LoadOptions {
  maxNestingDepth: number;
  /** Append, skipping records whose key is stored already (as an incremental run does), instead of merge. */
  append: boolean;
  /** A schema contract: what it leaves out must be left out alike on both paths. */
  schemaContract?: SchemaContractModes;
}

function seeds(): number[] {
  const spec = process.env.DIFF_SEEDS;
  // Six seeds cover every maxNestingDepth used and both dispositions (about 15-20 s on 2 shared cores).
  if (!spec) return [1, 2, 3, 4, 5, 6];
  const match = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
  const from = Number(match?.[1]);
  const to = Number(match?.[2] ?? match?.[1]);
  // A typo ran no seed and passed.
  if (!match || to < from) throw new Error(`DIFF_SEEDS must be a seed (17) or a range (1-200), got ${JSON.stringify(spec)}`);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * Every table of the dataset and the stored name mapping. `_load_id` says which load last changed a row (a merge
 * leaves a record read again unchanged as it is), so it is compared too. An append's root ids are unique per load and
 * writer, so they are left out, and a child row names its record by the root's `id` instead.
 */
async function dump(path: string, append: boolean): Promise<Map<string, unknown>> {
  return withQueries(path, async (run) => {
    const out = new Map<string, unknown>();
    const tables = await run(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'ds' AND table_name NOT LIKE '\\_pipeline\\_%' ESCAPE '\\' ORDER BY 1`);
    for (const { table_name: t } of tables) {
      out.set(`${t} columns`, await run(`SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'ds' AND table_name = '${t}' ORDER BY column_index`));
      if (!append) out.set(`${t} rows`, await run(`SELECT * FROM ds."${t}" ORDER BY _row_id`));
      else if (t === 'logs') out.set(`${t} rows`, await run(`SELECT * EXCLUDE (_row_id) FROM ds.logs ORDER BY ALL`));
      else {
        const sql = `SELECT c.* EXCLUDE (_row_id, _parent_id, _root_id), r.id AS "#record" FROM ds."${t}" c JOIN ds.logs r ON r._row_id = c._root_id ORDER BY ALL`;
        out.set(`${t} rows`, await run(sql));
      }
    }
    out.set('_pipeline_tables', await run('SELECT * EXCLUDE (load_id) FROM ds._pipeline_tables ORDER BY table_name'));
    out.set('_pipeline_columns', await run('SELECT * EXCLUDE (load_id) FROM ds._pipeline_columns ORDER BY table_name, position, column_name'));
    out.set('row counts', await run('SELECT row_counts::VARCHAR AS c FROM ds._pipeline_loads ORDER BY load_id'));
    return out;
  });
}

/** Loads the seed's records (LOADS merges, each written in two batches) into a new file; how many lines went fast. */
async function load(path: string, loads: Obj[][], opts: LoadOptions, fastPath: boolean, afterLoad?: () => Promise<void>): Promise<number> {
  rmSync(path, { force: true });
  let fastLines = 0;
  for (const [i, records] of loads.entries()) {
    const dest = await DuckDBDestination.open({ path, dataset: 'ds', pipelineName: 'p', threads: 1 });
    try {
      const w = dest.createResourceWriter({
        loadId: `${1_700_000_000 + i}.000000`, resource: resources.logs, primaryKey: ['id'], fastPath,
        writeDisposition: opts.append ? 'append' : 'merge', skipStoredKeys: opts.append, maxNestingDepth: opts.maxNestingDepth,
        ...(opts.schemaContract ? { schemaContract: opts.schemaContract } : {}),
      });
      const half = records.length >> 1;
      await w.write(structuredClone(records.slice(0, half)));
      await w.write(structuredClone(records.slice(half)));
      // Lines staged whole, per file (a private detail, as in destination.test.ts).
      const files = (w as unknown as { staging: { files: Map<string, { rows: number }> } }).staging.files;
      for (const [key, file] of files) if (/\u0000(record|list)$/.test(key)) fastLines += file.rows;
      await w.commit({ load: i });
    } finally {
      await dest.close();
    }
    await afterLoad?.();
  }
  return fastLines;
}

/** Texts and numbers of a value, as tokens a stored value is compared by. */
function inputTokens(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') out.add(value.toWellFormed());
  else if (typeof value === 'number') out.add(String(Object.is(value, -0) ? 0 : value));
  else if (Array.isArray(value)) for (const v of value) inputTokens(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) inputTokens(v, out);
}

function storedTokens(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') {
    out.add(value);
    // BIGINTs read back as text; JSON and _overflow values as their JSON text.
    if (value.trim() !== '' && !Number.isNaN(Number(value))) out.add(String(Number(value)));
    try {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed === 'object' && parsed !== null) storedTokens(parsed, out);
      else if (typeof parsed === 'string') out.add(parsed);
    } catch {
      // Not JSON: a text.
    }
  } else if (typeof value === 'number') out.add(String(value));
  else if (typeof value === 'boolean') out.add(String(value));
  else if (Array.isArray(value)) for (const v of value) storedTokens(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) storedTokens(v, out);
}

/**
 * Tokens of the records kept that their own rows (root and descendants) do not hold: a merge keeps the last occurrence
 * of each id, an append that skips stored keys the first. Records without an id are looked for in every row.
 */
function missingValues(loads: Obj[][], opts: LoadOptions, tables: Map<string, unknown>): string[] {
  const kept = new Map<unknown, Obj>();
  // A record without an id is only looked for when it is the last (merge) or first (append) of them.
  for (const r of loads.flat()) if (!opts.append || !kept.has(r.id)) kept.set(r.id, r);
  // A child row names its record by `#record` (append dumps) or by its root's `_row_id` (merge dumps).
  const idOfRoot = new Map((tables.get('logs rows') as Obj[]).map((r) => [r._row_id, r.id]));
  const all = new Set<string>();
  const byRecord = new Map<unknown, Set<string>>();
  for (const [name, rows] of tables) {
    if (!name.endsWith(' rows')) continue;
    for (const row of rows as Obj[]) {
      storedTokens(row, all);
      const id = name === 'logs rows' ? row.id : '#record' in row ? row['#record'] : idOfRoot.get(row._root_id);
      if (id === null || id === undefined) continue;
      if (!byRecord.has(id)) byRecord.set(id, new Set());
      storedTokens(row, byRecord.get(id)!);
    }
  }
  const missing: string[] = [];
  for (const [id, r] of kept) {
    const wanted = new Set<string>();
    inputTokens(r, wanted);
    const stored = id === undefined ? all : byRecord.get(id) ?? new Set();
    // A loose boolean column reads "true"/"false" texts as booleans: stored as such, found above.
    for (const t of wanted) if (!stored.has(t)) missing.push(`${String(id)}: ${t}`);
  }
  return missing;
}

/** Each keyed record's rows in every table (nulls and `_load_id` left out) and the load that last wrote it. */
async function recordRows(path: string): Promise<Map<unknown, { rows: string[]; load: unknown }>> {
  return withQueries(path, async (run) => {
    const out = new Map<unknown, { rows: string[]; load: unknown }>();
    const text = (table: string, row: Obj) => `${table} ${JSON.stringify(Object.entries(row).filter(([k, v]) => v !== null && k !== '_load_id' && k !== '#record'))}`;
    for (const r of await run('SELECT * FROM ds.logs WHERE id IS NOT NULL')) out.set(r.id, { rows: [text('logs', r)], load: r._load_id });
    const tables = await run(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'ds' AND table_name LIKE 'logs\\_\\_%' ESCAPE '\\'`);
    for (const { t } of tables) {
      for (const r of await run(`SELECT c.*, r.id AS "#record" FROM ds."${t}" c JOIN ds.logs r ON r._row_id = c._root_id WHERE r.id IS NOT NULL ORDER BY c._row_id`)) {
        out.get(r['#record'])?.rows.push(text(String(t), r));
      }
    }
    return out;
  });
}

/**
 * What both paths could get wrong alike, checked in one file: child rows left behind by a merge that replaced their
 * record (a long list that shrank) or without a record, a list position held twice; and, from the rows of each record
 * after each load (`snapshots`, merges only), a record read again whose rows stayed the same but that was rewritten
 * (its `_load_id` moved), or whose rows changed while its `_load_id` did not. A record's rows all carry the load that
 * last wrote it.
 */
async function sharedFaults(path: string, loads: Obj[][], snapshots: Array<Map<unknown, { rows: string[]; load: unknown }>>): Promise<string[]> {
  const out = await withQueries(path, async (run) => {
    const faults: string[] = [];
    const tables = await run(`SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = 'ds' AND table_name LIKE 'logs\\_\\_%' ESCAPE '\\'`);
    for (const { t } of tables) {
      const [stale] = await run(`SELECT count(*)::INT AS n, any_value(c._list_idx)::VARCHAR AS idx FROM ds."${t}" c
        LEFT JOIN ds.logs r ON r._row_id = c._root_id WHERE r._load_id IS DISTINCT FROM c._load_id`);
      if (stale!.n !== 0) faults.push(`${t}: ${stale!.n} rows without their record or of another load (e.g. _list_idx ${stale!.idx})`);
      const [twice] = await run(`SELECT count(*)::INT AS n FROM (SELECT _parent_id, _list_idx FROM ds."${t}" GROUP BY ALL HAVING count(*) > 1)`);
      if (twice!.n !== 0) faults.push(`${t}: ${twice!.n} list positions held twice`);
    }
    return faults;
  });
  for (let i = 1; i < snapshots.length; i++) {
    const read = new Set(loads[i]!.map((r) => r.id).filter((id) => id !== undefined));
    for (const id of read) {
      const [before, after] = [snapshots[i - 1]!.get(id), snapshots[i]!.get(id)];
      if (!before || !after) continue;
      const same = JSON.stringify(before.rows.sort()) === JSON.stringify(after.rows.sort());
      if (same && after.load !== before.load) out.push(`load ${i}: ${String(id)} rewritten, its rows unchanged`);
      if (!same && after.load === before.load) out.push(`load ${i}: ${String(id)} rows changed, _load_id kept`);
    }
  }
  return out;
}

/** The first difference between two dumps, as one short line per table. */
function differences(fast: Map<string, unknown>, slow: Map<string, unknown>): string[] {
  const out: string[] = [];
  for (const name of new Set([...fast.keys(), ...slow.keys()])) {
    const a = JSON.stringify(fast.get(name));
    const b = JSON.stringify(slow.get(name));
    if (a === b) continue;
    const fa = (fast.get(name) ?? []) as unknown[];
    const sa = (slow.get(name) ?? []) as unknown[];
    const i = Array.from({ length: Math.max(fa.length, sa.length) }, (_, k) => k).find((k) => JSON.stringify(fa[k]) !== JSON.stringify(sa[k]));
    out.push(`${name} (${fa.length} fast vs ${sa.length} row-by-row rows), first difference at ${i}:\n  fast: ${JSON.stringify(fa[i!])}\n  rows: ${JSON.stringify(sa[i!])}`);
  }
  return out;
}

describe('fast paths against the row path, on seeded hostile records', () => {
  const tmp = tempDir('sepipe-diff-');
  afterAll(() => tmp.cleanup());

  it.each(seeds())('seed %i: the same tables either way, and every value kept', async (seed) => {
    const gen = new RecordGenerator(seed);
    const loads = Array.from({ length: LOADS }, () => gen.records(PER_LOAD));
    const opts: LoadOptions = { maxNestingDepth: [4, 4, 2, 1, 0][seed % 5]!, append: seed % 3 === 2 };
    const fastFile = join(tmp.dir, `${seed}-fast.duckdb`);
    const slowFile = join(tmp.dir, `${seed}-rows.duckdb`);
    const fastLines = await load(fastFile, loads, opts, true);
    // Each record's rows after each load of the row path (merges), for the compare's verdicts (sharedFaults).
    const snapshots: Array<Map<unknown, { rows: string[]; load: unknown }>> = [];
    const snapshot = opts.append ? undefined : async () => void snapshots.push(await recordRows(slowFile));
    expect(await load(slowFile, loads, opts, false, snapshot)).toBe(0);
    const [fast, slow] = [await dump(fastFile, opts.append), await dump(slowFile, opts.append)];
    const replay = `seed ${seed} (${JSON.stringify(opts)}); replay: DIFF_SEEDS=${seed} npx vitest run test/fast-path-differential.test.ts`;
    expect(differences(fast, slow), replay).toEqual([]);
    expect(missingValues(loads, opts, slow), replay).toEqual([]);
    expect(await sharedFaults(slowFile, loads, snapshots), replay).toEqual([]);
    expect(await sharedFaults(fastFile, loads, []), replay).toEqual([]);
    // One row per id, whichever occurrence the disposition keeps.
    const keyed = (slow.get('logs rows') as Obj[]).filter((r) => r.id !== null);
    expect(keyed.length, replay).toBe(new Set(loads.flat().flatMap((r) => (r.id === undefined ? [] : [r.id]))).size);
    // The test only means something if the fast paths were taken: they are for the default seeds. A seed searched
    // with DIFF_SEEDS may have none (its first values decided types most later ones conflict with).
    if (!process.env.DIFF_SEEDS) expect(fastLines, replay).toBeGreaterThan(0);
  });
});

describe('fast paths against the row path, under a schema contract', () => {
  const tmp = tempDir('sepipe-diff-contract-');
  afterAll(() => tmp.cleanup());
  // Discarded values leave their records on the row path, discarded records leave nothing; the records around them
  // still go fast. Both files must hold the same, and some records must have been left out for it to mean anything.
  const contracts: Array<[number, SchemaContractModes]> = [
    [1, { tables: 'discard_value', columns: 'discard_value', dataType: 'discard_value' }],
    [2, { tables: 'discard_row', columns: 'evolve', dataType: 'discard_row' }],
    [3, { tables: 'evolve', columns: 'discard_value', dataType: 'discard_row' }],
  ];

  it.each(contracts)('seed %i, %j: the same tables either way', async (seed, schemaContract) => {
    const gen = new RecordGenerator(seed);
    const loads = Array.from({ length: LOADS }, () => gen.records(PER_LOAD));
    const opts: LoadOptions = { maxNestingDepth: 4, append: false, schemaContract };
    const fastFile = join(tmp.dir, `${seed}-fast.duckdb`);
    const slowFile = join(tmp.dir, `${seed}-rows.duckdb`);
    const fastLines = await load(fastFile, loads, opts, true);
    expect(await load(slowFile, loads, opts, false)).toBe(0);
    const [fast, slow] = [await dump(fastFile, false), await dump(slowFile, false)];
    const replay = `seed ${seed} (${JSON.stringify(opts)})`;
    expect(differences(fast, slow), replay).toEqual([]);
    expect(await sharedFaults(fastFile, loads, []), replay).toEqual([]);
    expect(fastLines, replay).toBeGreaterThan(0);
    // Something was left out: fewer records than ids, or no undeclared column at all.
    const stored = (slow.get('logs rows') as Obj[]).length;
    const ids = new Set(loads.flat().map((r) => r.id)).size;
    const columns = (slow.get('logs columns') as Obj[]).map((c) => String(c.column_name));
    const declared = Object.keys(resources.logs.recordSchema.properties ?? {});
    expect(stored < ids || columns.every((c) => c.startsWith('_') || declared.some((d) => c === d || c.startsWith(`${d}__`))), replay).toBe(true);
  });
});

// Fuzz: seeded hostile records go through the sandbox → runPipeline → DuckDB over several runs (re-read, changed,
// added, duplicated within a load; type changes; odd keys; deep nesting; huge strings and numbers). Each record is
// rebuilt from the tables through the loader's own _pipeline_tables/_pipeline_columns mapping and compared with what
// the API served, allowing only what NORMALIZATION.md documents as lossy. Used by fuzz.test.ts (a few seeds) and
// run.ts (many: `npm run fuzz -w snapengage-pipeline -- 1-50`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../../src/index.js';
import { mulberry32 } from './records.js';

type Obj = Record<string, unknown>;

export interface FuzzOptions {
  /** Consecutive loads into one DuckDB file (records re-read, changed and added between them). */
  runs: number;
  /** Records injected per run. */
  perRun: number;
  /** The first run appends (odd seeds) or replaces (even seeds), the later ones merge. */
  switchToMerge?: boolean;
}

// ---------- seeded RNG
let rnd = mulberry32(1);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
const chance = (p: number) => rnd() < p;

const KEYS = [
  'A B', 'a_b', 'A_B', 'aB', 'a__b', 'a b', 'Name', 'name', 'NAME', 'x', 'y', 'z', 'v', 'value', 'Value',
  '_row_id', '_load_id', '_parent_id', '_root_id', '_list_idx', 'rowid', 'ROWID', '#id', '#s', 'r', 'l', 'e',
  '', ' ', '😀', '\ud83d', '\ud83d k', 'a\u0000b', 'x\u2028y', '__proto__', 'constructor', 'toString',
  'k'.repeat(150), 'k'.repeat(149) + 'j', '"q"', "it's", 'a.b', 'ID', 'Id', 'id_1', 'camelCaseKey', 'camel_case_key',
  'HTTPServer', 'h_t_t_p_server', '123', '_123', 'é', 'e\u0301', 'ß', 'SS', 'İ', 'ǅ', 'Ω', 'Ω',
  'transcripts', 'labels', 'chat_duration', 'survey_score', 'proactive_chat', 'latitude', 'requester_details', 'type',
  'items', 'deep', 'list', 'mixed', 'n', 'flag', 'tags', 'data',
];
const TAME_KEYS = ['x', 'y', 'z', 'v', 'n', 'flag', 'tags', 'data', 'items', 'list', 'mixed', 'a_b', 'r', 'l', 'e', 'rowid', '_row_id', 'value', 'name', 'deep', 'k', 'id_1', '_list_idx', 'message', 'date'];
let keyPool: readonly string[] = [];
const DECLARED_OVERRIDES = ['transcripts', 'labels', 'chat_duration', 'survey_score', 'proactive_chat', 'latitude', 'requester_details', 'description', 'operator_variables', 'javascript_variables'];

function str(): string {
  switch (int(12)) {
    case 0: return '';
    case 1: return '😀 emoji ' + int(100);
    case 2: return 'cut \ud83d here';
    case 3: return 'low \udc00 half';
    case 4: return 'nul\u0000char';
    case 5: return 'ls\u2028ps\u2029';
    case 6: return 'x'.repeat(1000 + int(100_000));
    case 7: return pick(['true', 'false', 'TRUE', 'null', '1', '1.5', '-0', '9007199254740993', 'NaN']);
    case 8: return `q'"\\; DROP TABLE logs; --`;
    case 9: return '\\ud83d literal';
    case 10: return 'ä中文עברית' + int(10);
    default: return 's' + int(1000);
  }
}
function num(): number {
  switch (int(10)) {
    case 0: return 2 ** 53 + 2 * int(100);
    case 1: return 2 ** 63;
    case 2: return 9223372036854774784; // largest double below 2^63
    case 3: return -(2 ** 63);
    case 4: return 1e21 * (1 + int(9));
    case 5: return pick([-0, 5e-324, 1.7976931348623157e308, 0.1, -1.5]);
    case 6: return rnd() * 1000;
    default: return int(1000) - 500;
  }
}
function scalar(): unknown {
  switch (int(8)) {
    case 0: case 1: return str();
    case 2: case 3: return num();
    case 4: return chance(0.5);
    case 5: return pick(['true', 'false']);
    case 6: return null;
    default: return int(100);
  }
}
function value(depth: number): unknown {
  const r = int(depth > 7 ? 4 : 14);
  switch (r) {
    case 0: case 1: case 2: case 3: return scalar();
    case 4: case 5: return object(depth + 1);
    case 6: return Array.from({ length: int(5) }, () => scalar()); // list of scalars
    case 7: return Array.from({ length: 1 + int(4) }, () => (chance(0.1) ? null : object(depth + 1))); // list of objects
    case 8: return Array.from({ length: 1 + int(4) }, () => (chance(0.5) ? scalar() : object(depth + 1))); // mixed
    case 9: return Array.from({ length: 1 + int(3) }, () => (chance(0.6) ? Array.from({ length: int(3) }, () => (chance(0.5) ? scalar() : object(depth + 2))) : scalar())); // nested lists
    case 10: return pick([[], {}, [null], [[]], [{}], { a: null }]);
    case 11: { // deep chain beyond max depth
      let v: unknown = { leaf: scalar() };
      for (let i = 0; i < 3 + int(6); i++) v = chance(0.7) ? { [pick(keyPool)]: v } : [v];
      return v;
    }
    default: return scalar();
  }
}
function object(depth: number): Obj {
  const o: Obj = {};
  const n = int(depth > 4 ? 3 : 5);
  for (let i = 0; i < n; i++) Object.defineProperty(o, pick(keyPool), { value: value(depth), enumerable: true, writable: true, configurable: true });
  return o;
}
function fuzzFields(): Obj {
  keyPool = chance(0.5) ? TAME_KEYS : KEYS;
  const o = object(0);
  for (const k of ['id', 'created_at_date', 'created_at_seconds', 'created_at_milliseconds', 'ID', 'Id']) delete o[k];
  if (chance(0.4)) o[pick(DECLARED_OVERRIDES)] = value(1);
  return o;
}
function mutate(rec: Obj): Obj {
  keyPool = chance(0.5) ? TAME_KEYS : KEYS;
  const copy: Obj = JSON.parse(JSON.stringify(rec));
  for (let i = 0; i < 1 + int(3); i++) {
    const keys = Object.keys(copy).filter((k) => !['id', 'created_at_date', 'created_at_seconds', 'created_at_milliseconds'].includes(k));
    if (chance(0.5) && keys.length) copy[pick(keys)] = value(1); // type change of an existing field
    else Object.defineProperty(copy, pick(chance(0.5) ? TAME_KEYS : KEYS), { value: value(1), enumerable: true, writable: true, configurable: true });
    delete copy.ID; delete copy.Id;
  }
  return copy;
}

// ---------- comparison
const wf = (s: string) => (s as unknown as { toWellFormed(): string }).toWellFormed();
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
function emptyish(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.every(emptyish);
  if (isObj(v)) return Object.values(v).every(emptyish);
  return false;
}
function eq(e: unknown, g: unknown, where: string, problems: string[]): void {
  if (problems.length > 30) return;
  if (emptyish(e) && emptyish(g)) return;
  const show = (v: unknown) => { const s = JSON.stringify(v) ?? String(v); return s.length > 200 ? s.slice(0, 200) + '…' : s; };
  if (Array.isArray(e)) {
    if (!Array.isArray(g)) return void problems.push(`${where}: want list ${show(e)}, got ${show(g)}`);
    for (let i = 0; i < Math.max(e.length, g.length); i++) eq(e[i], g[i], `${where}[${i}]`, problems);
    return;
  }
  if (isObj(e)) {
    if (!isObj(g)) return void problems.push(`${where}: want object ${show(e)}, got ${show(g)}`);
    const got = g;
    const em = new Map(Object.keys(e).map((k) => [wf(k), e[k]]));
    const gm = new Map(Object.keys(got).map((k) => [wf(k), got[k]]));
    for (const k of new Set([...em.keys(), ...gm.keys()])) eq(em.get(k), gm.get(k), `${where}.${JSON.stringify(k).slice(0, 40)}`, problems);
    return;
  }
  if (typeof g === 'bigint') g = Number(g);
  let ok = false;
  if (typeof e === 'string') ok = wf(e) === g || (typeof g === 'boolean' && wf(e) === String(g));
  else if (typeof e === 'number') ok = e === g || (typeof g === 'string' && String(e) === g) || (Object.is(e, -0) && g === 0);
  else if (typeof e === 'boolean') ok = e === g || String(e) === g;
  if (!ok) problems.push(`${where}: want ${show(e)}, got ${show(g)}`);
}

interface Col { name: string; nodeKey: string; variant: string | null; type: string }
interface Tab { name: string; parent: string | null; nodeKey: string | null; cols: Col[] }

async function reconstruct(path: string, dataset: string, problems: string[]): Promise<Obj[]> {
  const inst = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  const q = async (sql: string) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Obj[];
  try {
    const tabs = new Map<string, Tab>();
    for (const t of await q(`SELECT DISTINCT table_name, parent_table, node_key FROM "${dataset}"._pipeline_tables WHERE resource = 'logs'`)) {
      tabs.set(String(t.table_name), { name: String(t.table_name), parent: t.parent_table as string | null, nodeKey: t.node_key as string | null, cols: [] });
    }
    const colRows = await q(`SELECT table_name, column_name, node_key, variant, data_type FROM "${dataset}"._pipeline_columns`);
    const seenCols = new Set<string>();
    for (const c of colRows) {
      const key = `${c.table_name}|${c.column_name}`;
      if (seenCols.has(key)) problems.push(`_pipeline_columns lists ${key} twice`);
      seenCols.add(key);
      tabs.get(String(c.table_name))?.cols.push({ name: String(c.column_name), nodeKey: String(c.node_key), variant: c.variant as string | null, type: String(c.data_type) });
    }
    // node keys used twice within one table (same source path twice as main column)
    for (const t of tabs.values()) {
      const mains = t.cols.filter((c) => c.variant === null).map((c) => c.nodeKey);
      if (new Set(mains).size !== mains.length) problems.push(`table ${t.name}: one node key has two main columns: ${mains.filter((m, i) => mains.indexOf(m) !== i).join(',')}`);
    }
    const rows = new Map<string, Obj[]>();
    for (const t of tabs.values()) rows.set(t.name, await q(`SELECT * FROM "${dataset}"."${t.name}"`));
    const byParent = new Map<string, Map<string, Obj[]>>();
    const idsOf = new Map<string, Set<string>>();
    for (const t of tabs.values()) {
      idsOf.set(t.name, new Set(rows.get(t.name)!.map((r) => String(r._row_id))));
      if (t.parent === null) continue;
      const m = new Map<string, Obj[]>();
      for (const r of rows.get(t.name)!) {
        const l = m.get(String(r._parent_id)) ?? [];
        l.push(r);
        m.set(String(r._parent_id), l);
      }
      byParent.set(t.name, m);
    }
    for (const t of tabs.values()) {
      if (t.parent === null) continue;
      const parentIds = idsOf.get(t.parent) ?? new Set();
      let orphans = 0;
      for (const pid of byParent.get(t.name)!.keys()) if (!parentIds.has(pid)) orphans += byParent.get(t.name)!.get(pid)!.length;
      if (orphans) problems.push(`${t.name}: ${orphans} orphan rows (no parent row)`);
      const ids = rows.get(t.name)!.map((r) => String(r._row_id));
      if (new Set(ids).size !== ids.length) problems.push(`${t.name}: duplicate _row_id (${ids.length - new Set(ids).size})`);
    }
    const decode = (c: Col, v: unknown): unknown => {
      if (c.type === 'json' && typeof v === 'string') return JSON.parse(v);
      if (typeof v === 'bigint') return Number(v);
      if (Array.isArray(v)) return v.map((x) => (typeof x === 'bigint' ? Number(x) : x));
      if (v && typeof v === 'object' && 'items' in (v as Obj)) return ((v as Obj).items as unknown[]).map((x) => (typeof x === 'bigint' ? Number(x) : x));
      return v;
    };
    const setPath = (obj: Obj, path: string[], v: unknown, where: string) => {
      let o = obj;
      for (let i = 0; i < path.length - 1; i++) {
        const k = path[i]!;
        if (!Object.hasOwn(o, k)) Object.defineProperty(o, k, { value: Object.create(null), enumerable: true, writable: true, configurable: true });
        const next = o[k];
        if (!isObj(next)) return void problems.push(`${where}: path ${JSON.stringify(path)} crosses a value`);
        o = next;
      }
      const last = path[path.length - 1]!;
      if (Object.hasOwn(o, last) && !emptyish(o[last]) && !emptyish(v)) problems.push(`${where}: two columns/variants hold ${JSON.stringify(path)}: ${JSON.stringify(o[last])?.slice(0, 80)} and ${JSON.stringify(v)?.slice(0, 80)}`);
      Object.defineProperty(o, last, { value: v, enumerable: true, writable: true, configurable: true });
    };
    const build = (t: Tab, row: Obj): unknown => {
      const obj: Obj = Object.create(null);
      let elem: unknown = undefined;
      const where = `${t.name} row ${String(row._row_id).slice(0, 8)}`;
      // The row's `_overflow` (node key d[], a JSON variant): fields the table had no room for, under their paths.
      let overflow: unknown;
      for (const c of t.cols) {
        const v = row[c.name];
        if (v === null || v === undefined) continue;
        const d = decode(c, v);
        if (c.nodeKey === 'd[]') {
          if (c.variant !== 'json' || !isObj(d)) problems.push(`${where}: row-level column ${c.name} is not a JSON object`);
          overflow = d;
        } else if (c.nodeKey === 'e') {
          if (elem !== undefined) problems.push(`${where}: element value twice`);
          elem = d;
        } else setPath(obj, JSON.parse(c.nodeKey.slice(1)) as string[], d, where);
      }
      for (const ct of tabs.values()) {
        if (ct.parent !== t.name) continue;
        const kids = (byParent.get(ct.name)?.get(String(row._row_id)) ?? []).slice().sort((a, b) => Number(a._list_idx) - Number(b._list_idx));
        if (kids.length === 0) continue;
        const arr: unknown[] = [];
        for (const k of kids) {
          const i = Number(k._list_idx);
          if (arr[i] !== undefined) problems.push(`${ct.name}: two rows at _list_idx ${i} under ${String(row._row_id).slice(0, 8)}`);
          if (String(k._root_id) !== String(t.parent === null ? row._row_id : row._root_id)) problems.push(`${ct.name}: wrong _root_id`);
          arr[i] = build(ct, k);
        }
        if (ct.nodeKey === 'e') {
          if (elem !== undefined) problems.push(`${where}: element value and element child table`);
          elem = arr;
        } else setPath(obj, JSON.parse(ct.nodeKey!.slice(1)) as string[], arr, where);
      }
      // Merged into what the columns hold, object into object: a leaf held by a column too is reported by setPath.
      const mergeOverflow = (into: Obj, from: Obj, path: string[]) => {
        for (const [k, v] of Object.entries(from)) {
          if (isObj(v) && Object.hasOwn(into, k) && isObj(into[k])) mergeOverflow(into[k] as Obj, v, [...path, k]);
          else setPath(obj, [...path, k], v, where);
        }
      };
      if (isObj(overflow)) mergeOverflow(obj, overflow, []);
      if (elem !== undefined) {
        if (Object.keys(obj).length) problems.push(`${where}: element value and object fields in one row`);
        return elem;
      }
      return obj;
    };
    const root = [...tabs.values()].find((t) => t.parent === null)!;
    return rows.get(root.name)!.map((r) => build(root, r) as Obj);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

/** The cases served, each with the `widget_id` the loader adds (the spec's addFields of logs: the widget asked for). */
async function fetchTruth(box: Sandbox, widget: string): Promise<Obj[]> {
  const text = await (await fetch(`${box.url}/__sandbox/truth?resource=logs`)).text();
  return text.split('\n').filter((l) => l.trim()).map((l) => ({ ...(JSON.parse(l) as Obj), widget_id: widget }));
}
async function post(box: Sandbox, path: string, body: unknown) {
  const r = await fetch(`${box.url}/__sandbox/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** The problems found for one seed (empty: the database matched the truth after every run). */
export async function fuzzSeed(seed: number, options: FuzzOptions): Promise<string[]> {
  const { runs: RUNS, perRun: PER_RUN } = options;
  const switching = options.switchToMerge === true;
  rnd = mulberry32(seed);
  const disposition = seed % 5 === 4 ? 'replace' : 'merge';
  const depth = pick([4, 4, 4, 2, 1, 0]);
  const box = await startSandbox({ port: 0, seed, cases: 4, widgets: 1, days: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
  const dbPath = join(dir, 'f.duckdb');
  const widget = box.env.SNAPENGAGE_WIDGET_ID!;
  const problems: string[] = [];
  const expectedById = new Map<string, Obj>();
  const keyless = new Map<string, Obj>();
  let prevTruth: Obj[] = [];
  let nextId = 0;
  const log: string[] = [`seed ${seed} disposition ${disposition} maxNestingDepth ${depth}`];
  try {
    for (let run = 0; run < RUNS; run++) {
      await post(box, 'reset', {});
      const cases: Obj[] = [];
      const injected = prevTruth.filter((r) => String(r.id ?? '').startsWith('fz'));
      for (let i = 0; i < PER_RUN; i++) {
        const roll = rnd();
        if (roll < 0.25 && injected.length) cases.push(pick(injected)); // identical re-read
        else if (roll < 0.5 && injected.length) cases.push(mutate(pick(injected))); // changed
        else {
          const rec = fuzzFields();
          if (chance(0.06)) rec.id = null; // keyless
          else rec.id = `fz${seed}-${nextId++}`;
          cases.push(rec);
        }
        if (chance(0.05) && !(switching && run === 0)) cases.push(mutate(cases[cases.length - 1]!)); // duplicate key within the load
      }
      await post(box, 'cases', { widgetId: widget, cases });
      const truth = await fetchTruth(box, widget);
      prevTruth = truth;
      if (disposition === 'replace') { expectedById.clear(); keyless.clear(); }
      for (const r of truth) {
        if (r.id === null || r.id === undefined) keyless.set(JSON.stringify(r), r);
        else expectedById.set(String(r.id), r);
      }
      try {
        const runDisposition = switching && run === 0 ? (seed % 2 ? 'append' : 'replace') : disposition;
        await runPipeline({ resources: { logs: { writeDisposition: runDisposition, maxNestingDepth: depth } }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path: dbPath } });
      } catch (e) {
        problems.push(`run ${run}: CRASH ${(e as Error).message.slice(0, 600)}`);
        log.push(JSON.stringify(cases).slice(0, 3000));
        break;
      }
      const runProblems: string[] = [];
      if (switching && run === 0) continue;
      const got = await reconstruct(dbPath, 'snapengage_data', runProblems);
      const byId = new Map<string, Obj[]>();
      const gotKeyless: Obj[] = [];
      for (const g of got) {
        if (g.id === null || g.id === undefined) gotKeyless.push(g);
        else byId.set(String(g.id), [...(byId.get(String(g.id)) ?? []), g]);
      }
      const expectedCount = new Map<string, number>();
      if (disposition === 'replace') for (const r of truth) if (r.id != null) expectedCount.set(String(r.id), (expectedCount.get(String(r.id)) ?? 0) + 1);
      for (const [id, list] of byId) {
        if (list.length > (expectedCount.get(id) ?? 1)) runProblems.push(`id ${id}: ${list.length} root rows`);
        if (!expectedById.has(id)) runProblems.push(`id ${id}: stored but not expected`);
      }
      for (const [id, want] of expectedById) {
        const list = byId.get(id);
        if (!list) { runProblems.push(`id ${id}: missing`); continue; }
        if (disposition === 'replace' && list.length > 1) {
          const all = truth.filter((r) => String(r.id) === id);
          for (const w of all) if (!list.some((g) => { const p: string[] = []; eq(w, g, '', p); return p.length === 0; })) runProblems.push(`id ${id}: a copy is missing`);
        } else eq(want, list[0], `id ${id}`, runProblems);
      }
      if (!switching && gotKeyless.length !== keyless.size) runProblems.push(`keyless: ${gotKeyless.length} stored, ${keyless.size} expected`);
      for (const want of switching ? [] : keyless.values()) {
        if (!gotKeyless.some((g) => { const p: string[] = []; eq(want, g, '', p); return p.length === 0; })) runProblems.push(`keyless record not found: ${JSON.stringify(want).slice(0, 200)}`);
      }
      if (runProblems.length) {
        problems.push(...runProblems.map((p) => `run ${run}: ${p}`));
        break;
      }
    }
  } finally {
    await box.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return problems.length ? [...log, ...problems] : [];
}

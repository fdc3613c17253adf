// Chaos soak, outside the test suite: `npm run build && npm run soak -w snapengage-pipeline -- [1-20] [--minutes 20]
// [--rounds 6] [--max-cases 30000] [--keep]`. Per seed: a sandbox with faults, the built CLI killed (SIGKILL) at
// random moments (after a delay, after N requests, right after a verbose commit step), reruns until it completes,
// cases and survey results injected between rounds, resources interleaved, and now and then two loaders on the same
// file at once (one must fail with the run lock's message). After every completed round the database must equal the
// sandbox's truth. Prints each seed's problems; exits 1 when any seed failed. Every loop is bounded.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { admin as adminOnce, expectMatchesTruth, PACKAGE_DIR, query, tempDir, truth as truthOnce } from '../helpers.js';

/** The admin API over keep-alive can meet a socket the server is closing ("fetch failed"): a few bounded retries. */
async function retried<T>(what: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await what();
    } catch (error) {
      if (attempt >= 4 || !/fetch failed/.test(String(error))) throw error;
      console.log(`  (admin fetch failed, retry ${attempt}: ${String((error as Error).cause ?? error)})`);
      await new Promise((res) => setTimeout(res, 200 * attempt));
    }
  }
}
const truth = (box: Sandbox, resource?: string) => retried(() => truthOnce(box, resource));
const admin = (box: Sandbox, path: string, body: unknown) => retried(() => adminOnce(box, path, body));

const BIN = resolve(PACKAGE_DIR, 'bin', 'snapengage-pipeline.js');
const DATASET = 'snapengage_data';
const KEYS: Record<string, string> = { logs: 'id', widgets: 'uuid', users: 'email', chat_availability: 'widgetId' };
const ALL = Object.keys(KEYS);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    minutes: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '6' },
    'max-cases': { type: 'string', default: '30000' },
    'min-cases': { type: 'string', default: '2000' },
    keep: { type: 'boolean', default: false },
  },
});
const seeds = (positionals[0] ?? '1-3').split(',').flatMap((part) => {
  const [from, to] = part.split('-').map(Number) as [number, number | undefined];
  return to === undefined ? [from] : Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
});
const deadline = Date.now() + Number(values.minutes) * 60_000;

/** mulberry32 */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof rng>;

const todayUtc = () => new Date().toISOString().slice(0, 10);
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

interface Run {
  code: number | null;
  signal: string | null;
  stderr: string;
  stdout: string;
  killedAt?: string;
  ms: number;
}

type Kill =
  | { kind: 'none' }
  | { kind: 'delay'; ms: number }
  | { kind: 'requests'; n: number }
  | { kind: 'step'; nth: number; match: RegExp };

async function requestsServed(box: Sandbox): Promise<number> {
  return retried(async () => ((await (await fetch(`${box.url}/__sandbox/stats`)).json()) as { requests: number }).requests);
}

/** Runs the built CLI; kills it with SIGKILL when `kill` says so. Bounded by a 5-minute timeout. */
function runLoader(box: Sandbox, dir: string, args: string[], kill: Kill, env: Record<string, string> = {}): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, 'run', ...args, '--verbose'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...box.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let killedAt: string | undefined;
  let steps = 0;
  let exited = false;
  const doKill = (why: string) => {
    if (exited || killedAt) return;
    killedAt = why;
    child.kill('SIGKILL');
  };
  let partial = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    const text = d.toString();
    stderr += text;
    if (kill.kind !== 'step') return;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (kill.match.test(line) && ++steps >= kill.nth) doKill(`after step "${line.slice(0, 80)}"`);
    }
  });
  const timer = setTimeout(() => doKill('timeout 300 s'), 300_000);
  if (kill.kind === 'delay') setTimeout(() => doKill(`after ${kill.ms} ms`), kill.ms);
  if (kill.kind === 'requests') {
    void (async () => {
      const base = await requestsServed(box);
      for (let i = 0; i < 30_000 && !exited && !killedAt; i++) {
        if ((await requestsServed(box)) - base >= kill.n) return doKill(`after ${kill.n} requests`);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
  }
  return new Promise((resolvePromise) => {
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, killedAt, ms: Date.now() - started });
    });
  });
}

const count = async (db: string, sql: string) => Number((await query(db, sql))[0]?.n ?? 0);

/** Invariants that must hold after any run, killed or not. */
async function checkInvariants(db: string, widgets: string[], startDate: string, problems: string[], when: string, allWindows = false): Promise<void> {
  if (!existsSync(db)) return;
  const tables = (await query(db, `SELECT table_name FROM information_schema.tables WHERE table_schema = '${DATASET}'`)).map((r) => String(r.table_name));
  const data = tables.filter((t) => !t.startsWith('_pipeline_'));
  if (data.length > 0 && !tables.includes('_pipeline_loads')) problems.push(`${when}: data tables without _pipeline_loads`);
  for (const table of data) {
    const orphans = await count(
      db,
      `SELECT count(*) AS n FROM ${DATASET}."${table}" WHERE _load_id IS NULL OR _load_id NOT IN (SELECT load_id FROM ${DATASET}._pipeline_loads WHERE status = 'loaded')`,
    );
    if (orphans) problems.push(`${when}: ${orphans} rows of ${table} belong to no loaded load`);
    const dupes = await count(db, `SELECT count(*) AS n FROM (SELECT _row_id FROM ${DATASET}."${table}" GROUP BY _row_id HAVING count(*) > 1)`);
    if (dupes) problems.push(`${when}: ${dupes} duplicate _row_id in ${table}`);
  }
  if (!tables.includes('_pipeline_state')) return;
  const badStateLoads = await count(
    db,
    `SELECT count(*) AS n FROM ${DATASET}._pipeline_state WHERE load_id NOT IN (SELECT load_id FROM ${DATASET}._pipeline_loads WHERE status = 'loaded')`,
  );
  if (badStateLoads) problems.push(`${when}: ${badStateLoads} state rows written by a load that is not 'loaded'`);
  const dupLoads = await count(db, `SELECT count(*) AS n FROM (SELECT load_id, resource FROM ${DATASET}._pipeline_loads GROUP BY ALL HAVING count(*) > 1)`);
  if (dupLoads) problems.push(`${when}: ${dupLoads} (load_id, resource) pairs recorded twice in _pipeline_loads`);
  for (const row of await query(db, `SELECT resource, CAST(state AS VARCHAR) AS state FROM ${DATASET}._pipeline_state`)) {
    if (row.resource !== 'logs') continue;
    const state = JSON.parse(String(row.state)) as { windows?: Record<string, { lastEnd: string }> };
    const keys = Object.keys(state.windows ?? {}).sort();
    const unknown = keys.filter((k) => !widgets.includes(k));
    if (unknown.length || (allWindows && keys.length !== widgets.length)) problems.push(`${when}: logs state windows for ${keys.join(',')}, widgets are ${widgets.join(',')}`);
    for (const [widget, { lastEnd }] of Object.entries(state.windows ?? {})) {
      if (!(lastEnd >= startDate && lastEnd <= todayUtc())) problems.push(`${when}: logs window ${widget} lastEnd ${lastEnd} outside ${startDate}..${todayUtc()}`);
    }
    // The logs of every widget are loaded at least up to (lastEnd) for each window: no stored case of a widget is
    // after a window end that is older than yesterday (that would mean a window went backwards).
  }
}

async function compareWithTruth(box: Sandbox, db: string, resources: string[], problems: string[], when: string): Promise<void> {
  for (const resource of resources) {
    const expected = await truth(box, resource);
    const found = await expectMatchesTruth(db, DATASET, expected, resource, KEYS[resource]);
    for (const p of found.slice(0, 10)) problems.push(`${when}: ${resource}: ${p}`);
  }
}

async function lastEnds(db: string): Promise<Record<string, string>> {
  if (!existsSync(db)) return {};
  const tables = (await query(db, `SELECT table_name FROM information_schema.tables WHERE table_schema = '${DATASET}'`)).map((r) => String(r.table_name));
  if (!tables.includes('_pipeline_state')) return {};
  const [row] = await query(db, `SELECT CAST(state AS VARCHAR) AS state FROM ${DATASET}._pipeline_state WHERE resource = 'logs'`);
  if (!row) return {};
  const windows = (JSON.parse(String(row.state)) as { windows: Record<string, { lastEnd: string }> }).windows;
  return Object.fromEntries(Object.entries(windows).map(([w, v]) => [w, v.lastEnd]));
}

let knownEnds: Record<string, string> = {};

/** New cases (now, or within the lookback) and late survey results on cases the next run re-reads. */
async function inject(box: Sandbox, r: Rng, db: string, widgets: string[], lookback: number, readState = true): Promise<string> {
  let added = 0;
  for (const widget of widgets) {
    if (!r.chance(0.7)) continue;
    const n = r.int(1, 300);
    const cases = Array.from({ length: n }, (_, i) => {
      if (r.chance(0.1)) return { description: `injected ${i} "quoted" \\ back ✓ 😀\nnew line`, survey_score: r.int(0, 100) };
      if (r.chance(0.1) && lookback > 0) return { created_at_seconds: Math.floor(Date.now() / 1000) - r.int(60, 3600) };
      return {};
    });
    await admin(box, 'cases', { widgetId: widget, cases });
    added += n;
  }
  // Survey updates on cases inside every widget's next window (lastEnd - lookback .. today).
  // (While a run holds the file, its state cannot be read: the windows known before the run are the oldest.)
  const ends = readState ? await lastEnds(db) : knownEnds;
  if (readState) knownEnds = ends;
  const all = await truth(box, 'logs');
  const eligible = all.filter((c) => {
    const day = new Date(Number(c.created_at_seconds) * 1000).toISOString().slice(0, 10);
    const widgetEnd = Object.values(ends).sort()[0];
    // Mid-run, a run about to be killed may still commit and move the windows up to today: only today's lookback.
    return (widgetEnd === undefined || day >= addDays(widgetEnd, -lookback)) && (readState || day >= addDays(todayUtc(), -lookback));
  });
  const updates = Array.from({ length: Math.min(eligible.length, r.int(0, 200)) }, () => {
    const c = r.pick(eligible);
    return r.chance(0.2)
      ? { caseId: c.id, survey_score: null, survey_comments: null }
      : { caseId: c.id, survey_score: r.int(0, 100), survey_comments: r.chance(0.5) ? `late ${r.int(0, 1e6)} ‘ç’ 日本` : '' };
  });
  if (updates.length) await admin(box, 'surveys', { updates });
  return `+${added} cases, ${updates.length} survey updates`;
}

interface Totals {
  runs: number;
  kills: number;
  byKind: Record<string, number>;
  lockTests: number;
  failedRuns: number;
  rounds: number;
}
const totals: Totals = { runs: 0, kills: 0, byKind: {}, lockTests: 0, failedRuns: 0, rounds: 0 };

const STEP = /^load \S+: (schema|adopt|compare|delete|insert|commit)/;
const FAULTS = ['', '429=0.1,500=0.05,reset=0.02,truncate=0.02', '429=0.05,500=0.02,reset=0.05,truncate=0.05', '500=0.1,reset=0.03', 'truncate=0.08,slow=0.01,slowMs=300'];

async function soakSeed(seed: number): Promise<string[]> {
  const r = rng(seed * 7919 + 13);
  const cases = r.int(Number(values['min-cases']), Number(values['max-cases']));
  const widgetsN = r.int(1, 5);
  const days = r.int(2, 60);
  const faults = r.pick(FAULTS);
  const lookback = r.pick([1, 1, 1, 0, 2]);
  const sliceDays = r.pick([7, 7, 1, 3, 30]);
  const concurrency = r.int(1, 6);
  const box = await startSandbox({ port: 0, seed, cases, widgets: widgetsN, days, faults });
  const tmp = tempDir('soak-');
  const problems: string[] = [];
  const db = join(tmp.dir, 'soak.duckdb');
  writeFileSync(
    join(tmp.dir, 'soak.mjs'),
    `export default ${JSON.stringify({
      resources: { logs: { incremental: { lookbackDays: lookback, sliceDays } }, widgets: true, users: true, chat_availability: true },
      rateLimit: { requestsPerSecond: 0 },
      concurrency,
      connection: { maxRetries: 10 },
    })};\n`,
  );
  const widgets = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
  knownEnds = {};
  const startDate = box.env.SNAPENGAGE_START_DATE!;
  const header = `seed ${seed}: ${cases} cases, ${widgetsN} widgets, ${days} days, faults "${faults}", lookback ${lookback}, slice ${sliceDays}, concurrency ${concurrency}`;
  console.log(header);
  let lastFullMs = 4000;
  let everyWidgetRan = false;
  try {
    const rounds = Number(values.rounds);
    for (let round = 0; round < rounds && problems.length === 0 && Date.now() < deadline; round++) {
      totals.rounds++;
      const resources = round === 0 || r.chance(0.5) ? (r.chance(0.5) ? ALL : ['logs']) : ALL.filter(() => r.chance(0.5));
      if (resources.length === 0) resources.push(r.pick(ALL));
      const note = round > 0 && resources.includes('logs') ? await inject(box, r, db, widgets, lookback) : '';
      const args = ['--resources', resources.join(','), '--duckdb', db, '--config', 'soak.mjs'];
      // Now and then a run for some of the widgets only: the others' windows must stay as they were.
      const subset = widgets.length > 1 && r.chance(0.15) ? widgets.filter(() => r.chance(0.5)) : [];
      const partial = subset.length > 0 && subset.length < widgets.length;
      const env: Record<string, string> = partial ? { SNAPENGAGE_WIDGET_ID: subset.join(',') } : {};
      const windowsBefore = partial ? await lastEnds(db) : {};
      const fresh = !existsSync(db);
      const log: string[] = [];
      if (r.chance(0.2)) {
        // Two loaders at once: exactly one may hold the file; the other must fail on the run lock (or DuckDB's) and change nothing.
        totals.lockTests++;
        const gap = r.pick([0, 0, 50, 300, 1000]);
        const first = runLoader(box, tmp.dir, args, { kind: 'none' }, env);
        await new Promise((res) => setTimeout(res, gap));
        const second = runLoader(box, tmp.dir, args, { kind: 'none' }, env);
        const [a, b] = await Promise.all([first, second]);
        totals.runs += 2;
        const ok = [a, b].filter((x) => x.code === 0);
        const refusal = /locked by another process|being loaded by another pipeline run/;
        const locked = [a, b].filter((x) => x.code !== 0 && refusal.test(x.stderr));
        log.push(`two loaders (gap ${gap} ms, fresh ${fresh}): exits ${a.code}/${b.code}`);
        if (!(ok.length === 2 || (ok.length === 1 && locked.length === 1))) {
          // Both may also succeed if the first was done before the second opened the file.
          const bad = [a, b].filter((x) => x.code !== 0 && !refusal.test(x.stderr));
          if (!bad.every((x) => /HTTP 5\d\d|retries|reset|terminated|fetch failed/i.test(x.stderr))) {
            problems.push(`round ${round}: two loaders: exits ${a.code}/${b.code}: ${[a, b].map((x) => x.stderr.split('\n').filter((l) => !/^(GET|load |\[progress)/.test(l)).slice(-3).join(' | ')).join(' || ')}`);
          }
        }
        for (const x of locked) {
          const lines = x.stderr.split('\n').filter((l) => refusal.test(l));
          if (lines.length !== 1 || !/PID \d+/.test(lines[0]!)) problems.push(`round ${round}: lock message not one clear line with a PID: ${JSON.stringify(lines)}`);
        }
        if (!existsSync(db) && ok.length > 0) problems.push(`round ${round}: the database file is gone after two loaders (fresh ${fresh}, gap ${gap})`);
      } else {
        // Kill 0-3 times, then run to completion (bounded).
        const kills = r.pick([0, 1, 1, 2, 3]);
        for (let k = 0; k < kills; k++) {
          const kind = r.pick(['delay', 'requests', 'step', 'step'] as const);
          const kill: Kill =
            kind === 'delay'
              ? { kind, ms: r.int(0, Math.max(200, Math.round(lastFullMs * 1.1))) }
              : kind === 'requests'
                ? { kind, n: r.int(1, Math.max(2, Math.round(cases / 100 / Math.max(1, 1)) + widgetsN * 3)) }
                : { kind, nth: r.int(1, 3 * resources.length + 2), match: STEP };
          const running = runLoader(box, tmp.dir, args, kill, env);
          // Cases and survey results that arrive while a (to be killed) run pages: the completing run must see them.
          if (resources.includes('logs') && r.chance(0.3)) {
            await new Promise((res) => setTimeout(res, r.int(0, 1500)));
            log.push(`mid-run ${await inject(box, r, db, widgets, lookback, false)}`);
          }
          const run = await running;
          totals.runs++;
          if (run.killedAt) {
            totals.kills++;
            totals.byKind[kind] = (totals.byKind[kind] ?? 0) + 1;
          }
          log.push(`${kind}: ${run.killedAt ?? `exit ${run.code}`} (${run.ms} ms)`);
          await checkInvariants(db, widgets, startDate, problems, `round ${round} after ${run.killedAt ?? 'run'}`);
          if (problems.length) break;
        }
      }
      {
        let done = false;
        for (let attempt = 0; attempt < 6 && !done && problems.length === 0; attempt++) {
          const run = await runLoader(box, tmp.dir, args, { kind: 'none' }, env);
          totals.runs++;
          if (run.code === 0) {
            done = true;
            if (resources.includes('logs')) lastFullMs = run.ms;
          } else {
            totals.failedRuns++;
            const why = run.stderr.split('\n').filter((l) => l && !/^(GET|load |\[progress)/.test(l)).slice(-2).join(' | ');
            log.push(`run failed (exit ${run.code}): ${why.slice(0, 300)}`);
            if (!/HTTP (429|5\d\d)|retr|reset|terminated|socket|fetch failed|invalid JSON|Unexpected end|JSON/i.test(why)) problems.push(`round ${round}: run failed: ${why}`);
            await checkInvariants(db, widgets, startDate, problems, `round ${round} after a failed run`);
          }
        }
        if (!done && problems.length === 0) problems.push(`round ${round}: no run completed in 6 attempts`);
      }
      if (problems.length === 0) {
        if (!partial && resources.includes('logs')) everyWidgetRan = true;
        await checkInvariants(db, widgets, startDate, problems, `round ${round} done`, everyWidgetRan);
        if (partial && resources.includes('logs')) {
          const after = await lastEnds(db);
          for (const [w, end] of Object.entries(windowsBefore)) if (!subset.includes(w) && after[w] !== end) problems.push(`round ${round}: run for ${subset.length} widgets moved widget ${w}'s window ${end} → ${after[w]}`);
        }
        if (partial) {
          console.log(`  round ${round} [${resources.join(',')}] widgets ${subset.length}/${widgets.length} ${note}; ${log.join('; ')}${problems.length ? ' → FAIL' : ' → ok (not compared)'}`);
          continue;
        }
        if (existsSync(`${db}.staging`)) problems.push(`round ${round}: staging left after a completed run`);
        // Only compare the resources loaded this round: others have not seen the latest injections (logs) or ran never.
        if (existsSync(db)) await compareWithTruth(box, db, resources, problems, `round ${round}`);
        else problems.push(`round ${round}: no database after a completed run`);
      }
      console.log(`  round ${round} [${resources.join(',')}] ${note}; ${log.join('; ')}${problems.length ? ' → FAIL' : ' → ok'}`);
    }
  } catch (error) {
    problems.push(`harness error: ${(error as Error).stack ?? String(error)}`);
  } finally {
    await box.close();
    if (problems.length && values.keep) console.log(`  kept ${tmp.dir}`);
    else tmp.cleanup();
  }
  return problems;
}

let failed = 0;
let ran = 0;
for (const seed of seeds) {
  if (Date.now() >= deadline) break;
  const started = Date.now();
  const problems = await soakSeed(seed);
  ran++;
  console.log(`seed ${seed}: ${problems.length ? 'FAIL' : 'ok'} (${Math.round((Date.now() - started) / 1000)} s)`);
  for (const problem of problems.slice(0, 25)) console.log(`    ${problem.slice(0, 700)}`);
  if (problems.length) failed++;
}
console.log(`${ran - failed} of ${ran} seeds ok; ${JSON.stringify(totals)}`);
process.exitCode = failed ? 1 : 0;

// Model-based test of run sequences (fast-check's AsyncCommand and asyncModelRun): each scenario test checks one kind of run alone; a
// sequence of them (cases added today, in the lookback, older than it; late surveys; the clock moving on or set back;
// the start date moved earlier (a backfill) or later; lookbackDays, sliceDays, maxNestingDepth, logs's
// writeDisposition (merge, append, replace) and its filter and map steps edited (a map adding a nested field, one
// dropping fields, one changing the primary key's value: run-sequences/steps.ts); widgets selected and deselected;
// a second pipeline name on the same file; runs in-process and as the CLI, of logs, its children chat_poll and
// visitor_typing, and chat_availability appended; samples, faulted runs, SIGKILLed runs, refreshes) may break what each alone keeps. After every command that runs the loader, the dataset must hold exactly
// what the model says (INCREMENTAL.md): every case of a window read once, as the sandbox served it at that run, the
// filter kept it and the map returned it (under its key as mapped; append keeps a stored key as it was, replace only
// what the run read) (a case older than the window when it came is not loaded: the documented limit), each
// pipeline's windows (lastEnd the run's today, back too when the clock is; firstStart; newest records never moving
// back), a chat_availability row per run and widget, `_pipeline_loads` counting the complete loads per pipeline, and
// no row of a load that did not finish. A refresh must never drop a case it does not read again.
//
// Date is faked in-process (the sandbox and runPipeline share it); a CLI child gets the same clock through
// run-sequences/clock-shift.mjs. A fixed seed and few sequences by default (~1 min). More, or another seed:
//   SEQUENCES=40 SEED=123 npx vitest run packages/pipeline/test/run-sequences-property.test.ts
// A failure prints fast-check's seed and path: SEED=<seed> SEQUENCES_PATH=<path> replays it.
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/index.js';
import { admin, collectOutput, query, sandbox, spawnCli, stats, tempDir, truth } from './helpers.js';
import {
  applyCommit, applySample, applyWhatCommitted, checkDataset, DATASET, hasDataset, heldWidgets, refreshStart, DAY, day, dayStart, emptyModel, HOUR, PIPELINES, RESOURCE_SETS, START_DATE, START_MS,
  type Model, type Real, type Resource, type Windowed,
} from './run-sequences/model.js';
import { DEFAULT_CONFIG, describeConfig, runConfig, writeConfigFile, type FilterStep, type MapStep, type SequenceConfig, type WriteDisposition } from './run-sequences/steps.js';

const SEQUENCES = Number(process.env.SEQUENCES ?? 6);
const SEED = Number(process.env.SEED ?? 20261128);
const REPLAY_PATH = process.env.SEQUENCES_PATH;
const MAX_COMMANDS = Number(process.env.SEQUENCES_MAX_COMMANDS ?? 8);
const TIME_LIMIT_MS = Number(process.env.SEQUENCES_TIME_LIMIT_MS ?? 150_000);

const CLOCK_SHIFT = join(import.meta.dirname, 'run-sequences', 'clock-shift.mjs');

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let sequenceNo = 0;

function env(m: Model): Record<string, string> {
  return { ...box.env, SNAPENGAGE_WIDGET_ID: m.selected.join(','), SNAPENGAGE_START_DATE: m.startDate, SNAPENGAGE_DUCKDB_THREADS: '1' };
}

/** The run's config: the model's pipeline name and SequenceConfig (run-sequences/steps.ts); `chat_availability` appended. */
function config(m: Model, maxRetries?: number) {
  return runConfig(m.config, PIPELINES[m.pipeline]!, maxRetries);
}

/** Never earlier than the latest start date a sequence sets (a start date after today is refused). */
const EARLIEST_CLOCK_MS = START_MS - 2 * DAY;

/**
 * The clock moves between 01:00 and 22:59 UTC only, so a CLI run (seconds of real time on top) stays on its day;
 * back too (INCREMENTAL.md: "A clock set back reads from its own today"), not before EARLIEST_CLOCK_MS.
 */
function moveClock(m: Model, hours: number): void {
  let next = Math.max(EARLIEST_CLOCK_MS, m.nowMs + hours * HOUR);
  const hour = new Date(next).getUTCHours();
  if (hour >= 23 || hour < 1) next = dayStart(next + 2 * HOUR) + HOUR;
  m.nowMs = next;
  vi.setSystemTime(next);
}

type Age = 'today' | 'lookback' | 'older' | 'beforeStart';

class AddCases implements fc.AsyncCommand<Model, Real> {
  constructor(readonly widget: number, readonly cases: Array<{ age: Age; at: number }>) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const widgetId = r.widgets[this.widget]!;
    const today = dayStart(m.nowMs);
    const instants = this.cases.map(({ age, at }) => {
      if (age === 'today') return Math.floor(today + at * (m.nowMs - today));
      if (age === 'lookback') return Math.floor(today - DAY + at * DAY);
      if (age === 'older') return Math.max(Date.parse(`${START_DATE}T00:00:00Z`), Math.floor(today - (3 + at * 2) * DAY));
      // Before the default start date: only a start date moved earlier (a backfill) or a refresh from it reads those.
      return Math.floor(Date.parse(`${START_DATE}T00:00:00Z`) - (1 + at * 2) * DAY);
    });
    r.log.push(this.toString());
    await admin(r.box, 'cases', { widgetId, cases: instants.map((ms) => ({ created_at_date: ms, created_at_seconds: Math.floor(ms / 1000), created_at_milliseconds: ms })) });
  }
  toString = () => `add(w${this.widget}: ${this.cases.map((c) => `${c.age}@${c.at.toFixed(2)}`).join(',')})`;
}

class LateSurvey implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number, readonly score: number) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    const cases = await truth(r.box);
    const target = cases[this.pick % cases.length]!;
    r.log.push(`${this.toString()}=${target.id}`);
    await admin(r.box, 'surveys', { updates: [{ caseId: target.id, survey_score: this.score, survey_comments: `late ${r.log.length}` }] });
  }
  toString = () => `survey(#${this.pick}, ${this.score})`;
}

class AdvanceClock implements fc.AsyncCommand<Model, Real> {
  constructor(readonly hours: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    moveClock(m, this.hours);
    r.log.push(this.toString());
  }
  toString = () => `clock(${this.hours > 0 ? '+' : ''}${this.hours}h)`;
}

/** SNAPENGAGE_START_DATE moved earlier (a backfill: INCREMENTAL.md, Backfill) or later (forgets nothing). */
class SetStartDate implements fc.AsyncCommand<Model, Real> {
  constructor(readonly days: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    m.startDate = day(Date.parse(`${START_DATE}T00:00:00Z`) + this.days * DAY);
    r.log.push(`${this.toString()}=${m.startDate}`);
  }
  toString = () => `start(${this.days >= 0 ? '+' : ''}${this.days}d)`;
}

/**
 * The config edited between runs: lookbackDays, sliceDays (small ones slice the windows), a filter and a map step on
 * logs, its maxNestingDepth and writeDisposition (run-sequences/steps.ts).
 */
class EditConfig implements fc.AsyncCommand<Model, Real> {
  constructor(readonly edit: SequenceConfig) {}
  check = () => true;
  async run(m: Model, r: Real) {
    m.config = this.edit;
    r.log.push(this.toString());
  }
  toString = () => describeConfig(this.edit);
}

/** The next runs under the other pipeline name, on the same file and dataset (state per pipeline name). */
class SwitchPipeline implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    m.pipeline = (m.pipeline + 1) % PIPELINES.length;
    r.log.push(this.toString());
  }
  toString = () => 'switch-pipeline';
}

class ToggleWidget implements fc.AsyncCommand<Model, Real> {
  constructor(readonly widget: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const id = r.widgets[this.widget]!;
    const next = m.selected.includes(id) ? m.selected.filter((w) => w !== id) : r.widgets.filter((w) => w === id || m.selected.includes(w));
    if (next.length > 0) m.selected = next; // at least one widget stays selected
    r.log.push(`${this.toString()}→${m.selected.map((w) => `w${r.widgets.indexOf(w)}`).join(',')}`);
  }
  toString = () => `toggle(w${this.widget})`;
}

type RunKind = 'run' | 'cli' | 'refresh' | 'cli-refresh' | 'sample' | 'faults';
const FAULTS = ['429=0.2,500=0.1,retryAfter=none', 'reset=0.1,truncate=0.1', '500=0.3'];

class RunLoader implements fc.AsyncCommand<Model, Real> {
  constructor(readonly kind: RunKind, readonly resourceSet: number, readonly faults = 0) {}
  check = () => true;
  get resources() {
    return RESOURCE_SETS[this.resourceSet % RESOURCE_SETS.length]!;
  }
  async run(m: Model, r: Real) {
    r.log.push(this.toString());
    const served = await truth(r.box);
    const resources = this.resources;
    const refresh = this.kind === 'refresh' || this.kind === 'cli-refresh';
    const options = { env: env(m), destination: { path: r.path }, resources };
    const windows = m.windows[m.pipeline]!;
    const refreshFrom = refresh ? refreshStart(m, resources) : undefined;
    // The refusals below are not for a resource that replaces its tables: every run of it keeps only what it reads.
    const keeping = (resource: Resource) => !(resource === 'logs' && m.config.writeDisposition === 'replace');
    const windowed = resources.filter((resource): resource is Windowed => resource !== 'chat_availability' && keeping(resource));
    // Held by its windows or by a sample (which keeps its rows but no window).
    const fewerWidgets = windowed.some((resource) => heldWidgets(m, resource).some((widget) => !m.selected.includes(widget)));
    // … or before a load of it was made (a sample's rows, which keep no window).
    const clockSetBack = windowed.some((resource) => [...windows[resource].values()].some((w) => w.lastEnd > day(m.nowMs)) || (m.lastLoadDay[resource] ?? '') > day(m.nowMs));
    // Tables belong to the dataset, state to a pipeline name: a refresh under one while another holds state for a
    // resource it loads is refused (it would drop that one's records).
    const otherPipelines = refresh && (await hasDataset(r)) ? await query(r.path, `SELECT 1 FROM ${DATASET}._pipeline_state
      WHERE pipeline_name <> '${PIPELINES[m.pipeline]}' AND resource IN (${resources.filter(keeping).map((x) => `'${x}'`).join(',') || "''"})`) : [];
    if (refresh && otherPipelines.length > 0) {
      const refused = this.kind === 'refresh'
        ? await runPipeline(config(m), { ...options, refresh }).then(() => 'ran', (error: unknown) => String(error))
        : (await collectOutput(cliRun(m, r, resources, refresh))).stderr;
      expect(refused, r.log.join(' → ')).toContain('holds records loaded under pipelineName');
    } else if (refresh && (fewerWidgets || clockSetBack)) {
      // A refresh for fewer widgets than the resource holds would drop the others, one with the clock set back before
      // the last day loaded the days after today (INCREMENTAL.md, Refreshing): refused, nothing changed.
      const refused = this.kind === 'refresh'
        ? await runPipeline(config(m), { ...options, refresh }).then(() => 'ran', (error: unknown) => String(error))
        : (await collectOutput(cliRun(m, r, resources, refresh))).stderr;
      expect(refused, r.log.join(' → ')).toMatch(fewerWidgets ? /no longer lists|after today/ : /after today/);
    } else if (this.kind === 'run' || this.kind === 'refresh') {
      await runPipeline(config(m), { ...options, refresh });
      for (const resource of resources) applyCommit(m, resource, served, refreshFrom);
    } else if (this.kind === 'sample') {
      await runPipeline(config(m), { ...options, limitPages: 1 });
      await applySample(m, r, served, resources);
    } else if (this.kind === 'faults') {
      await admin(r.box, 'faults', { faults: FAULTS[this.faults % FAULTS.length] });
      try {
        // Few retries, so that some faulted runs fail: a failed one must change nothing it did not commit.
        const failure = await runPipeline(config(m, 3), options).then(() => undefined, (error: unknown) => error);
        const committed = await applyWhatCommitted(m, r, resources, served);
        r.log.push(failure === undefined ? '(loaded)' : `(failed: ${String(failure).slice(0, 80)}; committed ${committed.join(',') || 'nothing'})`);
        if (failure === undefined) expect(committed, `${r.log.join(' → ')}: a run that succeeded committed each resource`).toEqual(resources);
      } finally {
        await admin(r.box, 'faults', { faults: '' });
      }
    } else {
      const result = await collectOutput(cliRun(m, r, resources, refresh));
      expect(result.code, `${r.log.join(' → ')}: ${result.stderr}`).toBe(0);
      for (const resource of resources) applyCommit(m, resource, served, refreshFrom);
    }
    await checkDataset(m, r);
  }
  toString = () => `${this.kind === 'faults' ? `faults(${FAULTS[this.faults % FAULTS.length]})` : this.kind}[${this.resources.join(',')}]`;
}

function cliRun(m: Model, r: Real, resources: Resource[], refresh: boolean) {
  writeConfigFile(m.config, PIPELINES[m.pipeline]!, r.configFile);
  return spawnCli(['run', '--config', r.configFile, '--duckdb', r.path, '--resources', resources.join(','), ...(refresh ? ['--refresh'] : [])], {
    env: { ...env(m), SEQUENCE_CLOCK_OFFSET_MS: String(m.nowMs - performance.timeOrigin - performance.now()) },
    nodeArgs: ['--import', CLOCK_SHIFT],
  });
}

/**
 * A CLI run killed with SIGKILL after some requests or some milliseconds (to land in its flush or commits too): each
 * resource committed all or nothing (the model takes the run for those that did).
 */
class KilledRun implements fc.AsyncCommand<Model, Real> {
  constructor(readonly after: { requests: number } | { ms: number }, readonly resourceSet: number) {}
  check = () => true;
  get resources() {
    return RESOURCE_SETS[this.resourceSet % RESOURCE_SETS.length]!;
  }
  async run(m: Model, r: Real) {
    r.log.push(this.toString());
    const served = await truth(r.box);
    const base = (await stats(r.box)).requests;
    const startedAt = performance.now();
    const child = cliRun(m, r, this.resources, false);
    const ended = collectOutput(child);
    let exited = false;
    void ended.then(() => (exited = true));
    const due = async () =>
      'ms' in this.after ? performance.now() - startedAt >= this.after.ms : (await stats(r.box)).requests - base >= this.after.requests;
    for (let i = 0; i < 4000 && !exited && !(await due()); i++) await new Promise((done) => setTimeout(done, 5));
    child.kill('SIGKILL');
    const result = await ended;
    const committed = await applyWhatCommitted(m, r, this.resources, served);
    r.log.push(`(${result.signal ?? `exit ${result.code}`}, committed ${committed.join(',') || 'nothing'})`);
    await checkDataset(m, r);
  }
  toString = () => `kill[${this.resources.join(',')}](after ${'ms' in this.after ? `${this.after.ms} ms` : `${this.after.requests} requests`})`;
}

// Weighted toward runs: a sequence is checked after each command that runs the loader.
const commands = [
  { weight: 2, arbitrary: fc.tuple(fc.nat(1), fc.array(fc.record({ age: fc.constantFrom<Age>('today', 'lookback', 'older', 'beforeStart'), at: fc.integer({ min: 0, max: 99 }).map((n) => n / 100) }), { minLength: 1, maxLength: 3 }))
    .map(([w, cases]) => new AddCases(w, cases)) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 10 })).map(([pick, score]) => new LateSurvey(pick, score)) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }).map((h) => new AdvanceClock(h)) },
  { weight: 1, arbitrary: fc.integer({ min: -40, max: -1 }).map((h) => new AdvanceClock(h)) },
  { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }).map((d) => new SetStartDate(d)) },
  { weight: 2, arbitrary: fc.record({
    lookbackDays: fc.integer({ min: 0, max: 2 }), sliceDays: fc.constantFrom(1, 2, 7), filter: fc.constantFrom<FilterStep>('none', 'none', 'mod3', 'mod2'),
    map: fc.constantFrom<MapStep>('none', 'none', 'addField', 'dropFields', 'rekey'), maxNestingDepth: fc.constantFrom(undefined, undefined, 0, 1),
    writeDisposition: fc.constantFrom<WriteDisposition>('merge', 'merge', 'merge', 'append', 'replace'),
  }).map((c) => new EditConfig(c)) },
  { weight: 1, arbitrary: fc.constant(new SwitchPipeline()) },
  { weight: 1, arbitrary: fc.nat(1).map((w) => new ToggleWidget(w)) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom<RunKind>('run', 'run', 'cli', 'refresh', 'cli-refresh', 'sample'), fc.nat(RESOURCE_SETS.length - 1)).map(([kind, set]) => new RunLoader(kind, set)) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(2), fc.nat(RESOURCE_SETS.length - 1)).map(([f, set]) => new RunLoader('faults', set, f)) },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(fc.record({ requests: fc.nat(12) }), fc.record({ ms: fc.integer({ min: 0, max: 2500 }) })), fc.nat(RESOURCE_SETS.length - 1))
    .map(([after, set]) => new KilledRun(after, set)) },
];

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], now: START_MS });
  box = await sandbox({ cases: 16, widgets: 2, days: 4, now: START_MS });
  tmp = tempDir('sequences-');
});
afterAll(async () => {
  vi.useRealTimers();
  await box?.close();
  tmp?.cleanup();
});

/** A fresh sandbox state, clock and file per sequence. */
async function setup(): Promise<{ model: Model; real: Real }> {
  await admin(box, 'reset', {});
  vi.setSystemTime(START_MS);
  const n = sequenceNo++;
  const configFile = join(tmp.dir, 'pipeline.mjs');
  const widgets = box.credentials.widgetIds;
  return {
    model: emptyModel(START_MS, widgets, DEFAULT_CONFIG),
    real: { box, path: join(tmp.dir, `seq${n}.duckdb`), configFile, widgets, log: [] },
  };
}

// A plain array, not fc.commands: its lengths cluster at 0 and 1 (5 runs of fc.commands at this seed: 8, 1, 1, 0, 0
// commands), so a small default run would test little. Arrays shrink too (fewer commands, simpler ones).
const sequences = fc.array(fc.oneof(...commands), { minLength: Math.min(4, MAX_COMMANDS), maxLength: MAX_COMMANDS });

async function runSequence(cmds: Array<fc.AsyncCommand<Model, Real>>): Promise<void> {
  const { model, real } = await setup();
  await fc.asyncModelRun(() => ({ model, real }), cmds);
  // Every sequence ends with a complete run, so what its last commands did is checked too.
  await new RunLoader('run', RESOURCE_SETS.findIndex((set) => set.length === 2)).run(model, real);
  if (process.env.SEQUENCES_VERBOSE) console.log(real.log.join(" → "));
}

describe('run sequences against a model (fast-check model-based)', () => {
  it(`every sequence leaves the dataset as the model says (seed ${SEED}, ${SEQUENCES} sequences)`, async () => {
    const details = await fc.check(fc.asyncProperty(sequences, runSequence), {
      seed: SEED,
      numRuns: SEQUENCES,
      ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}),
      interruptAfterTimeLimit: TIME_LIMIT_MS,
    });
    if (details.failed) throw new Error(fc.defaultReportMessage(details), { cause: details.errorInstance });
    if (details.interrupted) console.warn(`run sequences: ${details.numRuns} of ${SEQUENCES} within ${TIME_LIMIT_MS} ms`);
    expect(details.numRuns).toBeGreaterThan(0);
  }, TIME_LIMIT_MS + 60_000);

  // Sequences the random ones reach rarely, written out (each also the shrunk form of a failure): a backfill of a
  // case before the first day loaded, then a start date moved later and a refresh (forgets nothing); the clock set
  // back over midnight, then a refresh (refused: it would drop the day after) and a run; steps and write dispositions
  // edited between runs, with a sample right after a map step was added (the model once took the rows it rewrote, their
  // survey values unchanged, for rows it had not rewritten).
  it.each([
    { name: 'a backfill, then a later start date and a refresh',
      cmds: [new RunLoader('run', 2), new AddCases(0, [{ age: 'beforeStart', at: 0.5 }]), new SetStartDate(-3), new RunLoader('run', 4), new SetStartDate(2), new RunLoader('refresh', 2)] },
    { name: 'a refresh under a second pipeline name (refused: it would drop the first one\'s records)',
      cmds: [new RunLoader('run', 0), new SwitchPipeline(), new ToggleWidget(1), new RunLoader('refresh', 0), new RunLoader('cli-refresh', 2)] },
    { name: 'the clock set back over midnight, a refresh (refused) and runs',
      cmds: [new RunLoader('run', 0), new AdvanceClock(-10), new RunLoader('refresh', 0), new AdvanceClock(-20), new RunLoader('cli', 2)] },
    { name: 'steps and dispositions edited between runs: a field added at depth 0 (then a sample), fields dropped, the key rekeyed under append, a filter under replace',
      cmds: [new RunLoader('run', 0), new EditConfig({ ...DEFAULT_CONFIG, map: 'addField', maxNestingDepth: 0 }), new RunLoader('sample', 0), new AddCases(0, [{ age: 'today', at: 0.5 }]),
        new RunLoader('run', 0), new EditConfig({ ...DEFAULT_CONFIG, map: 'dropFields' }), new LateSurvey(16, 7), new RunLoader('run', 0),
        new EditConfig({ ...DEFAULT_CONFIG, map: 'rekey', writeDisposition: 'append' }), new RunLoader('run', 0), new LateSurvey(16, 8), new RunLoader('run', 0),
        new EditConfig({ ...DEFAULT_CONFIG, filter: 'mod2', writeDisposition: 'replace' }), new RunLoader('run', 0), new RunLoader('sample', 0)] },
    // A sample commits rows but no window: the refresh checks read the widgets and first days it stored beside them.
    { name: 'a sample, a widget deselected and a refresh (refused: it would drop the sampled cases of that widget)',
      cmds: [new RunLoader('sample', 0), new ToggleWidget(0), new RunLoader('refresh', 0)] },
    { name: 'a sample from an earlier start date, then a later one and a refresh (reads from the day the sample did)',
      cmds: [new AddCases(0, [{ age: 'beforeStart', at: 0.5 }]), new SetStartDate(-3), new RunLoader('sample', 0), new SetStartDate(0), new RunLoader('refresh', 0)] },
    // Out of the random sequences' reach (their start dates stay before the sandbox's last cases): a start date after
    // every case and a clock four days ahead commit windows with no newest record; with the clock back two days, a
    // case yesterday (before today minus a lookback of 0) is read, as the loader resumes from the start date.
    { name: 'a clock-ahead run that loaded no record, then the clock set back (resumes from the start date)',
      cmds: [new EditConfig({ ...DEFAULT_CONFIG, lookbackDays: 0 }), new SetStartDate(7), new AdvanceClock(96), new RunLoader('run', 0),
        new AdvanceClock(-48), new AddCases(0, [{ age: 'lookback', at: 0.5 }]), new RunLoader('run', 0)] },
  ])('$name', async ({ cmds }) => {
    await runSequence(cmds);
  }, 60_000);
});

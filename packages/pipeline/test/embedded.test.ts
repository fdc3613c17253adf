// runPipeline embedded in a long-lived process (a job scheduler): many runs sharing one AbortSignal, runs cancelled
// mid-extraction or during their commit, concurrent runs on different files, and callbacks that throw. Runs go to the
// sandbox over loopback into real DuckDB files; runs are held at an exact point by a gate, nothing here is timed.
import { getEventListeners } from 'node:events';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { AbortedError, PipelineError, definePipeline, runPipeline, type PipelineConfig } from '../src/index.js';
import { admin, expectMatchesTruth, gatedRun, query, sandbox, tempDir, truth } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 120, widgets: 2, days: 4 });
  tmp = tempDir('embedded-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const config = (path: string, resources: PipelineConfig['resources'] = { logs: true }): PipelineConfig =>
  definePipeline({ resources, rateLimit: { requestsPerSecond: 0 }, destination: { type: 'duckdb', path } });

/** What a run may change in a file: the data, the state and the loaded loads (a failed run adds a `failed` row). */
const contents = async (db: string) => ({
  logs: await query(db, `SELECT count(*)::INTEGER AS n, max(_load_id) AS load FROM snapengage_data.logs`),
  state: await query(db, `SELECT resource, CAST(state AS VARCHAR) AS state FROM snapengage_data._pipeline_state ORDER BY resource`),
  loaded: await query(db, `SELECT load_id, resource FROM snapengage_data._pipeline_loads WHERE status = 'loaded' ORDER BY load_id, resource`),
});

describe('runPipeline in a long-lived process', () => {
  it('runs sharing one AbortSignal leave no listener on it (no MaxListenersExceededWarning)', async () => {
    const db = join(tmp.dir, 'shared-signal.duckdb');
    const controller = new AbortController();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      // Node warns at the 11th listener on one signal; before the fix every run left one.
      for (let i = 0; i < 12; i++) {
        await runPipeline(config(db, { logs: true, widgets: true }), { env: box.env, signal: controller.signal });
        expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      }
      // A warning is emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('twelve runs at once sharing one AbortSignal (a worker loading several orgs) listen to it once', async () => {
    const controller = new AbortController();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    // Each run's first request waits until every run has made one: all twelve are extracting at once then.
    const runs = 12;
    const started = new Set<number>();
    let listening = -1;
    let release!: () => void;
    const all = new Promise<void>((resolve) => (release = resolve));
    const fetchOf = (run: number) => async (request: Request) => {
      if (started.add(run).size === runs && listening === -1) {
        listening = getEventListeners(controller.signal, 'abort').length;
        release();
      }
      await all;
      return globalThis.fetch(request);
    };
    try {
      const results = await Promise.all(Array.from({ length: runs }, (_, i) =>
        runPipeline(config(join(tmp.dir, `at-once-${i}.duckdb`), { widgets: true }), { env: box.env, signal: controller.signal, fetch: fetchOf(i) })));
      expect(results.map((r) => r.rowCounts.widgets)).toEqual(Array(runs).fill(2));
      await new Promise((resolve) => setImmediate(resolve));
      // Before: one listener per run (13 with the client's), and Node's "Possible EventTarget memory leak detected".
      expect(listening).toBeLessThanOrEqual(2);
      expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([]);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a chat_poll fan-out over thousands of cases gathers no listeners on one signal (no MaxListenersExceededWarning)', async () => {
    // Each Request built with the run's signal added an abort listener to it that only garbage collection removed
    // (undici): ~1 per case, past Node's 1500 at about 1500 cases.
    const big = await sandbox({ cases: 2000, widgets: 1, days: 3 });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const info = await runPipeline(config(join(tmp.dir, 'fan-out.duckdb'), { logs: true, chat_poll: true }), { env: big.env });
      expect(info.rowCounts.chat_poll).toBe(2000);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await big.close();
    }
  });

  it('cancelled mid-extraction: an AbortedError, the file as it was, and the next run loads everything', async () => {
    const db = join(tmp.dir, 'cancel-extract.duckdb');
    await runPipeline(config(db), { env: box.env });
    const before = await contents(db);
    // New cases, so that a run that advanced the state without loading them would be caught by the truth below.
    await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID!.split(',')[0], cases: [{ description: 'after the cancel' }] });
    const controller = new AbortController();
    const held = gatedRun(config(db), { env: box.env, signal: controller.signal });
    await held.extracting;
    controller.abort();
    held.release();
    const error = await held.run.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).committedResources).toEqual([]);
    expect(await contents(db)).toEqual(before);
    // The run lock was released: the next run goes ahead and loads what the cancelled one did not.
    await runPipeline(config(db), { env: box.env });
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('cancelled once the commit has begun: the commit finishes, every resource, and the run resolves', async () => {
    const db = join(tmp.dir, 'cancel-commit.duckdb');
    const controller = new AbortController();
    // Children first, then widgets and logs: the signal comes during the first resource's commit.
    const info = await runPipeline(config(db, { logs: true, chat_poll: true, widgets: true }), {
      env: box.env, signal: controller.signal, onLoadStep: () => controller.abort(),
    });
    expect(controller.signal.aborted).toBe(true);
    expect(Object.keys(info.rowCounts)).toEqual(expect.arrayContaining(['logs', 'chat_poll', 'widgets']));
    const loaded = await query(db, `SELECT resource FROM snapengage_data._pipeline_loads WHERE status = 'loaded' ORDER BY resource`);
    expect(loaded.map((r) => r.resource)).toEqual(['chat_poll', 'logs', 'widgets']);
  });

  it('progress says when the commit begins: once, after the last page and before the first load step; aborting then loads everything', async () => {
    const db = join(tmp.dir, 'committing-phase.duckdb');
    const controller = new AbortController();
    const events: string[] = [];
    const info = await runPipeline(config(db, { logs: true, widgets: true }), {
      env: box.env,
      signal: controller.signal,
      progress: (s) => {
        events.push(s.phase);
        expect(s.done).toBe(s.phase === 'done');
        if (s.phase === 'committing') controller.abort();
      },
      onLoadStep: () => events.push('step'),
    });
    const collapsed = events.filter((e, i) => e !== events[i - 1]);
    expect(collapsed).toEqual(['extracting', 'committing', 'step', 'done']);
    expect(events.filter((e) => e === 'committing')).toHaveLength(1);
    expect(controller.signal.aborted).toBe(true);
    expect(Object.keys(info.rowCounts)).toEqual(expect.arrayContaining(['logs', 'widgets']));
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('two runs on different files at once both load everything', async () => {
    const [a, b] = [join(tmp.dir, 'concurrent-a.duckdb'), join(tmp.dir, 'concurrent-b.duckdb')];
    await Promise.all([runPipeline(config(a), { env: box.env }), runPipeline(config(b), { env: box.env })]);
    const cases = await truth(box);
    expect(await expectMatchesTruth(a, 'snapengage_data', cases)).toEqual([]);
    expect(await expectMatchesTruth(b, 'snapengage_data', cases)).toEqual([]);
  });
});

describe('callbacks that throw', () => {
  it('progress throwing on every call, even the last, neither fails the run nor hides its commit', async () => {
    const db = join(tmp.dir, 'progress-throws.duckdb');
    const warnings: string[] = [];
    let calls = 0;
    const info = await runPipeline(config(db), {
      env: box.env,
      warn: (message) => warnings.push(message),
      progress: () => {
        calls++;
        throw new Error('render failed');
      },
    });
    // Before: "Extracting logs failed: render failed" at the first page; thrown at the end, a "DuckDB error" after the commit.
    expect(calls).toBeGreaterThan(2);
    expect(info.rowCounts.logs).toBe((await truth(box)).length);
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^the progress callback threw \(render failed\); the run went on/)]);
  });

  it('onLoadStep throwing during the commit does not leave some resources committed and the rest failed', async () => {
    const db = join(tmp.dir, 'step-throws.duckdb');
    await runPipeline(config(db, { logs: true, widgets: true }), {
      env: box.env, warn: () => undefined,
      onLoadStep: (step) => {
        if (step.resource === 'logs') throw new Error('log sink down');
      },
    });
    const loads = await query(db, `SELECT resource, status FROM snapengage_data._pipeline_loads ORDER BY resource`);
    expect(loads).toEqual([{ resource: 'logs', status: 'loaded' }, { resource: 'widgets', status: 'loaded' }]);
  });

  it('a commit failing after another resource of the run committed says which one did, not that nothing was', async () => {
    const db = join(tmp.dir, 'second-commit-fails.duckdb');
    let first: string | undefined;
    const run = runPipeline(config(db, { logs: true, widgets: true }), {
      env: box.env, warn: () => undefined,
      onLoadStep: (step) => {
        // The first resource's commit is under way: the other one's staged rows vanish (a temp cleaner, a user's rm).
        if (first !== undefined) return;
        first = step.resource;
        for (const dir of readdirSync(`${db}.staging`)) if (!dir.includes(`-${first}-`) && !dir.startsWith('.')) rmSync(join(`${db}.staging`, dir), { recursive: true, force: true });
      },
    });
    const error = await run.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    const message = (error as Error).message;
    expect(message).not.toMatch(/nothing of this run was (committed|loaded)/);
    expect(message).toContain(`${first} of this run was committed before it`);
    // Code that alerts on it (a scheduler's callback) tells a partial failure from a total one without parsing the
    // message, and a total failure says so too.
    expect((error as PipelineError).committedResources).toEqual([first]);
    const loads = await query(db, `SELECT resource, status FROM snapengage_data._pipeline_loads ORDER BY resource`);
    expect(loads).toContainEqual({ resource: first, status: 'loaded' });
    expect(loads.filter((l) => l.status === 'loaded')).toHaveLength(1);
  });

  it('an async callback that rejects, with no warn given: one process warning, no unhandled rejection', async () => {
    const db = join(tmp.dir, 'async-progress.duckdb');
    const warnings: Array<Error & { code?: string }> = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      await runPipeline(config(db), { env: box.env, progress: async () => Promise.reject(new Error('metrics push failed')) });
      // Rejections are reported from a microtask, the warning on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.code === 'SNAPENGAGE_CALLBACK_THREW').map((w) => w.message)).toEqual([
        expect.stringMatching(/^the progress callback threw \(metrics push failed\)/),
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

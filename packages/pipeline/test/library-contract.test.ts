// What an app embedding the loader may count on: a run (and loading its config) does none of the CLI's things to the
// host process — no output of its own, no exit code, no change to process.env, no listener or handler left — and an
// AbortSignal that is aborted before the run, or after it, behaves. The sandbox over loopback, real DuckDB files.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { AbortedError, PipelineError, definePipeline, loadPipelineConfig, openDataset, runPipeline, type PipelineConfig, type RunOptions } from '../src/index.js';
import { checkRunOptions } from '../src/run-options.js';
import { admin, expectMatchesTruth, sandbox, stats, tempDir, truth } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 30, widgets: 2, days: 3 });
  tmp = tempDir('contract-');
});
afterAll(async () => {
  await admin(box, 'faults', { faults: '' }).catch(() => undefined);
  await box?.close();
  tmp?.cleanup();
});

const config = (path: string): PipelineConfig =>
  definePipeline({ resources: { logs: true, chat_poll: true, widgets: true }, rateLimit: { requestsPerSecond: 0 }, connection: { maxRetries: 0 }, destination: { type: 'duckdb', path } });

/** Everything a run could write to the host's stdout and stderr while `work` runs. */
async function captureOutput(work: () => Promise<void>): Promise<string[]> {
  const written: string[] = [];
  const [out, err] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((chunk: unknown) => (written.push(`stdout: ${String(chunk)}`), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown) => (written.push(`stderr: ${String(chunk)}`), true)) as typeof process.stderr.write;
  try {
    await work();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return written;
}

describe('the host process is left as it was', () => {
  it('loads, failed loads and a TypeScript config: no output, no exit code, process.env and process listeners unchanged', async () => {
    await stats(box); // a fetch of the test's own, so that Node has made its global dispatcher
    const dispatcher = Reflect.get(globalThis, Symbol.for('undici.globalDispatcher.1'));
    expect(dispatcher).toBeDefined();
    const envBefore = { ...process.env };
    const listenersBefore = ['SIGINT', 'SIGTERM', 'exit', 'uncaughtException', 'unhandledRejection', 'warning'].map((e) => process.listenerCount(e));
    const exitCodeBefore = process.exitCode;
    writeFileSync(join(tmp.dir, 'pipeline.ts'), `const config: { resources: Record<string, boolean> } = { resources: { widgets: true } };\nexport default config;\n`);
    const errors: unknown[] = [];
    const written = await captureOutput(async () => {
      // tsx's cache switch was set in process.env for the rest of the app's life (and every child it starts).
      expect((await loadPipelineConfig('pipeline.ts', box.env, tmp.dir)).config.resources).toEqual({ widgets: true });
      await runPipeline(config(join(tmp.dir, 'host.duckdb')), { env: box.env });
      for (const faults of ['500=1', 'reset=1']) {
        await admin(box, 'faults', { faults });
        await runPipeline(config(join(tmp.dir, 'host.duckdb')), { env: box.env }).catch((e: unknown) => errors.push(e));
      }
      await admin(box, 'faults', { faults: '' });
      const wrongToken = { ...box.env, SNAPENGAGE_API_TOKEN: `${box.env.SNAPENGAGE_API_TOKEN}-wrong` };
      await runPipeline(config(join(tmp.dir, 'host.duckdb')), { env: wrongToken }).catch((e: unknown) => errors.push(e));
    });
    expect(written).toEqual([]);
    expect(process.exitCode).toBe(exitCodeBefore);
    expect(Reflect.get(globalThis, Symbol.for('undici.globalDispatcher.1'))).toBe(dispatcher);
    expect(Object.keys({ ...envBefore, ...process.env }).filter((k) => envBefore[k] !== process.env[k])).toEqual([]);
    expect(['SIGINT', 'SIGTERM', 'exit', 'uncaughtException', 'unhandledRejection', 'warning'].map((e) => process.listenerCount(e))).toEqual(listenersBefore);
    // What an app's logger prints of an error (stack, cause chain, own fields) quotes no credential, not even a wrong one.
    expect(errors.map((e) => (e as Error).name)).toEqual(['ExtractError', 'ExtractError', 'ExtractError']);
    const secrets = [box.env.SNAPENGAGE_API_TOKEN!, box.env.SNAPENGAGE_API_KEY!, box.env.SNAPENGAGE_PROVISIONING_KEY!];
    for (const error of errors) {
      expect(error).toBeInstanceOf(PipelineError);
      const printed = inspect(error, { depth: Infinity }) + JSON.stringify(error);
      for (const secret of secrets) expect(printed.includes(secret), (error as Error).message).toBe(false);
    }
  });
});

describe('an AbortSignal', () => {
  it('already aborted: an AbortedError before any request, and no file, staging or run lock left', async () => {
    const db = join(tmp.dir, 'pre-aborted.duckdb');
    const requests = (await stats(box)).requests;
    const error = await runPipeline(config(db), { env: box.env, signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).committedResources).toEqual([]);
    expect((await stats(box)).requests).toBe(requests);
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('pre-aborted'))).toEqual([]);
    // The next run is not refused by anything the cancelled one left.
    await runPipeline(config(db), { env: box.env });
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('aborted after the run resolved: harmless; the file reads, and the next run with the same controller is refused', async () => {
    const db = join(tmp.dir, 'aborted-after.duckdb');
    const controller = new AbortController();
    const info = await runPipeline(config(db), { env: box.env, signal: controller.signal });
    controller.abort();
    await new Promise((resolve) => setImmediate(resolve));
    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    try {
      expect((await ds.loads(10)).filter((l) => l.loadId === info.loadId).map((l) => l.status)).toEqual(['loaded', 'loaded', 'loaded']);
    } finally {
      await ds.close();
    }
    await expect(runPipeline(config(db), { env: box.env, signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(existsSync(`${db}.staging`)).toBe(false);
  });
});

describe('two runs at once in one process', () => {
  it('of two orgs into files of their own (a worker serving two clients): each loads its own org, exactly', async () => {
    const other = await sandbox({ cases: 25, widgets: 1, days: 3, seed: 11 });
    try {
      expect(other.env.SNAPENGAGE_ORG_ID).not.toBe(box.env.SNAPENGAGE_ORG_ID);
      const [a, b] = [join(tmp.dir, 'org-a.duckdb'), join(tmp.dir, 'org-b.duckdb')];
      const [infoA, infoB] = await Promise.all([runPipeline(config(a), { env: box.env }), runPipeline(config(b), { env: other.env })]);
      expect(await expectMatchesTruth(a, 'snapengage_data', await truth(box))).toEqual([]);
      expect(await expectMatchesTruth(b, 'snapengage_data', await truth(other))).toEqual([]);
      expect([infoA.rowCounts.chat_poll, infoB.rowCounts.chat_poll]).toEqual([(await truth(box)).length, (await truth(other)).length]);
      const orgs = async (path: string) => {
        const ds = await openDataset({ path, dataset: 'snapengage_data' });
        try {
          return [...new Set((await ds.loads(10)).map((l) => l.orgId))];
        } finally {
          await ds.close();
        }
      };
      expect([await orgs(a), await orgs(b)]).toEqual([[box.env.SNAPENGAGE_ORG_ID], [other.env.SNAPENGAGE_ORG_ID]]);
    } finally {
      await other.close();
    }
  });
});

describe('options of the wrong type, from JavaScript', () => {
  it('are a TypeError naming the option and what to pass, before any request or file', async () => {
    const db = join(tmp.dir, 'wrong-options.duckdb');
    const requests = (await stats(box)).requests;
    const wrong: Array<[unknown, RegExp]> = [
      [null, /^runPipeline\(\): options must be an object such as \{ signal, progress \}, got null$/],
      // Before: "DuckDB error on …: parent.addEventListener is not a function", a DestinationError.
      [{ signal: new AbortController() }, /^runPipeline\(\): options\.signal must be an AbortSignal: pass controller\.signal, not the AbortController$/],
      // Before: "Invalid value used as weak map key".
      [{ signal: 'stop' }, /^runPipeline\(\): options\.signal must be an AbortSignal, got "stop"$/],
      // Before: "Cannot read properties of undefined (reading 'parent')".
      [{ resources: 'logs' }, /^runPipeline\(\): options\.resources must be an array of resource names, such as \['logs', 'widgets'\], got "logs"$/],
      // Before: a process warning once the run was under way, or an ExtractError that blamed the request.
      [{ progress: 5 }, /^runPipeline\(\): options\.progress must be a function, got 5$/],
      [{ fetch: {} }, /^runPipeline\(\): options\.fetch must be a function, got \{\}$/],
      [{ env: 'SNAPENGAGE_ORG_ID=x' }, /^runPipeline\(\): options\.env must be an object of variables, such as process\.env, got a string$/],
    ];
    const messages: string[] = [];
    for (const [options, expected] of wrong) {
      const given = options !== null && typeof options === 'object' ? { env: box.env, ...options } : options;
      const error = await runPipeline(config(db), given as RunOptions).then(() => undefined, (e: unknown) => e);
      expect(error, String(expected)).toBeInstanceOf(TypeError);
      messages.push((error as Error).message);
      expect((error as Error).message).toMatch(expected);
    }
    expect(messages).toHaveLength(wrong.length);
    expect((await stats(box)).requests).toBe(requests);
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('wrong-options'))).toEqual([]);
    // null and undefined are "not given", as for any option left out.
    const info = await runPipeline(config(db), { env: box.env, signal: null, progress: undefined, resources: null } as unknown as RunOptions);
    expect(info.rowCounts.logs).toBe((await truth(box)).length);
  });

  it("an env given as the .env file's text is refused without quoting it (it holds the API token)", async () => {
    const dotenv = `SNAPENGAGE_ORG_ID=${box.env.SNAPENGAGE_ORG_ID}\nSNAPENGAGE_API_TOKEN=${box.env.SNAPENGAGE_API_TOKEN}\n`;
    const error = await runPipeline(config(join(tmp.dir, 'env-text.duckdb')), { env: dotenv } as unknown as RunOptions).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(TypeError);
    expect(error?.message).toBe('runPipeline(): options.env must be an object of variables, such as process.env, got a string');
    expect(error?.message).not.toContain(box.env.SNAPENGAGE_API_TOKEN!);
  });

  it('callbacks that are methods of a class (on its prototype) are called, as before options were checked', async () => {
    const seen: string[] = [];
    class Observer {
      readonly env = box.env;
      progress(): void {
        seen.push('progress');
      }
      onRequest(): void {
        seen.push('request');
      }
    }
    await runPipeline(config(join(tmp.dir, 'class-options.duckdb')), new Observer());
    expect(new Set(seen)).toEqual(new Set(['progress', 'request']));
  });
});

describe('checkRunOptions, the check above, on its own (no run needed)', () => {
  const refusal = (given: unknown) => {
    try {
      checkRunOptions(given);
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError);
      return (error as Error).message;
    }
    return undefined;
  };

  it('refuses what is not an options object, an array too; no options at all is none', () => {
    expect(checkRunOptions(undefined)).toEqual({});
    expect(refusal(['logs'])).toBe('runPipeline(): options must be an object such as { signal, progress }, got ["logs"]');
  });

  it('an AbortSignal is told by its shape: an EventTarget without `aborted` is none, nor is an object holding a signal', () => {
    expect(refusal({ signal: new EventTarget() })).toBe('runPipeline(): options.signal must be an AbortSignal, got {}');
    expect(refusal({ signal: { signal: new AbortController().signal } })).toBe('runPipeline(): options.signal must be an AbortSignal, got {"signal":{}}');
  });

  it('names what was given however it prints: a function as such, a symbol, a number', () => {
    expect(refusal({ resources: () => ['logs'] })).toBe("runPipeline(): options.resources must be an array of resource names, such as ['logs', 'widgets'], got a function");
    expect(refusal({ resources: ['logs', 5] })).toBe("runPipeline(): options.resources must be an array of resource names, such as ['logs', 'widgets'], got [\"logs\",5]");
    expect(refusal({ progress: Symbol('tick') })).toBe('runPipeline(): options.progress must be a function, got Symbol(tick)');
    expect(refusal({ env: 5 })).toBe('runPipeline(): options.env must be an object of variables, such as process.env, got a number');
  });

  it('a callback given as null is not given, as undefined is', () => {
    expect(checkRunOptions({ onRequest: null, warn: undefined })).toEqual({ warn: undefined });
  });
});

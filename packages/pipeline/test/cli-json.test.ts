// `snapengage-pipeline run --json`, as a scheduler reads it: one JSON document on one line of stdout (Airflow's
// BashOperator pushes the last line to XCom; `| jq` reads it), for a run that loaded and for one that failed, with
// the exit codes unchanged and the one-line error still on stderr.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DestinationError, withCommitted } from '../src/errors.js';
import { documentLine, failedDocument } from '../src/run-document.js';
import { runCli, sandbox, tempDir, truth } from './helpers.js';

/** stdout as the one JSON document it must be: exactly one line. */
function document(stdout: string): Record<string, any> {
  const lines = stdout.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, any>;
}

describe('run --json', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    box = await sandbox({ cases: 120, widgets: 2, days: 3 });
    tmp = tempDir('cli-json-');
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('a run that loaded prints the load info as one JSON line, and nothing else on stdout', async () => {
    const db = join(tmp.dir, 'loaded.duckdb');
    const run = await runCli(['run', '--resources', 'logs,widgets', '--duckdb', db, '--json'], { env: box.env, cwd: tmp.dir });
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    const info = document(run.stdout);
    expect(info).toMatchObject({
      status: 'LOADED',
      pipelineName: 'snapengage_pipeline',
      destination: 'duckdb',
      dataset: 'snapengage_data',
      loadId: expect.stringMatching(/^\d+\.\d+$/),
      rowCounts: { logs: (await truth(box)).length },
    });
    expect([...info.committedResources].sort()).toEqual(['logs', 'widgets']);
    expect(Date.parse(info.startedAt)).toBeLessThanOrEqual(Date.parse(info.finishedAt));
    expect(info.resources.map((r: { name: string }) => r.name).sort()).toEqual(['logs', 'widgets']);
    // The notes as OPERATIONS.md lists them: on every run, empty when there is nothing to say; the sample's and the
    // stray records' only when they apply, and a checkpoint that failed at close (full-disk.test.ts) only when it did.
    for (const note of ['droppedTables', 'keylessRecords', 'adoptedRecords', 'adoptionRemovedRecords', 'notTakenOver', 'alreadyStoredRecords',
      'repeatedKeyRecords', 'incremental', 'endDayUnchecked', 'notFound', 'missingParentValues', 'unfollowedNextLinks', 'rateLimit', 'retries',
      'noContent', 'overflowValues']) expect(info, note).toHaveProperty(note);
    for (const absent of ['limitPages', 'sampledCutShort', 'outOfWindow', 'checkpointFailed']) expect(info, absent).not.toHaveProperty(absent);
    // How fresh each widget is, as in the printout's "Incremental state".
    for (const widget of box.env.SNAPENGAGE_WIDGET_ID!.split(',')) expect(info.incremental.logs[widget].lastEnd).toMatch(/^\d{4}-\d{2}-\d{2}$/);

    // A rerun with nothing new: still LOADED, no row written, the unchanged records counted.
    const again = document((await runCli(['run', '--resources', 'logs', '--duckdb', db, '--json'], { env: box.env, cwd: tmp.dir })).stdout);
    expect(again.status).toBe('LOADED');
    expect(again.rowCounts.logs ?? 0).toBe(0);
    expect(again.unchangedRecords.logs).toBeGreaterThan(0);
  });

  it('a failed run prints a FAILED document naming the error and what was committed, exit 1, the error line on stderr', async () => {
    const db = join(tmp.dir, 'failed.duckdb');
    const token = 'not-the-token-1f2e3d';
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', db, '--json'], { env: { ...box.env, SNAPENGAGE_API_TOKEN: token }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^snapengage-pipeline: Extracting logs failed: .*HTTP 401/m);
    const failed = document(run.stdout);
    expect(failed).toMatchObject({
      status: 'FAILED',
      committedResources: [],
      error: { name: 'ExtractError', exitCode: 1, resource: 'logs', message: expect.stringMatching(/HTTP 401.*SNAPENGAGE_API_TOKEN/) },
    });
    // The run had drawn its load id: the document names it (a fresh file is left as it was: not made at all).
    expect(failed.loadId).toMatch(/^\d+\.\d+$/);
    expect(existsSync(db)).toBe(false);
    expect(Date.parse(failed.finishedAt)).not.toBeNaN();
    expect(run.stdout).not.toContain(token);
  });

  it('a usage error is exit 2 and a FAILED document too, also one parseArgs refuses', async () => {
    const unknown = await runCli(['run', '--resources', 'logz', '--json'], { env: box.env, cwd: tmp.dir });
    expect(unknown.code).toBe(2);
    expect(document(unknown.stdout)).toMatchObject({ status: 'FAILED', committedResources: [], error: { name: 'UsageError', exitCode: 2 } });
    // A flag parseArgs refuses is found before the flags are read: --json among the arguments still asks for JSON.
    const badFlag = await runCli(['run', '--json', '--limit-page', '2'], { env: box.env, cwd: tmp.dir });
    expect(badFlag.code).toBe(2);
    expect(document(badFlag.stdout)).toMatchObject({ status: 'FAILED', error: { name: 'UsageError', exitCode: 2 } });
  });

  it("what a config module prints goes to stderr: stdout stays the one document; --json=true is asked for JSON too", async () => {
    const config = join(tmp.dir, 'noisy.mjs');
    writeFileSync(config, "console.log('config says hi'); process.stdout.write('raw write\\n');\nexport default { resources: { widgets: true } };\n");
    const run = await runCli(['run', '--config', config, '--duckdb', join(tmp.dir, 'noisy.duckdb'), '--json'], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(0);
    expect(document(run.stdout)).toMatchObject({ status: 'LOADED', committedResources: ['widgets'] });
    expect(run.stderr).toContain('config says hi');
    expect(run.stderr).toContain('raw write');
    // A boolean takes no value, so parseArgs refuses it (exit 2): the refusal is still the FAILED document.
    const valued = await runCli(['run', '--json=true'], { env: box.env, cwd: tmp.dir });
    expect(valued.code).toBe(2);
    expect(document(valued.stdout)).toMatchObject({ status: 'FAILED', error: { name: 'UsageError', exitCode: 2 } });
  });

  it('without --json the printout is as before', async () => {
    const run = await runCli(['run', '--resources', 'widgets', '--duckdb', join(tmp.dir, 'text.duckdb')], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Pipeline snapengage_pipeline load step completed in/);
    expect(run.stdout).not.toContain('{');
  });
});

describe('the FAILED document', () => {
  it('of a partial failure lists what was committed and the DestinationError code; a credential is masked even where JSON escapes it', () => {
    const secret = 'tok"en\\x';
    const error = withCommitted(new DestinationError(`committing: the disk is full at /data/x.duckdb (${secret})`, { code: 'disk_full', path: '/data/x.duckdb' }), ['chat_poll']);
    const line = documentLine(failedDocument({ error, message: error.message, exitCode: 1, startedAt: new Date(0) }), (text) => text.replaceAll(secret, '***'));
    expect(line).not.toContain('\n');
    expect(line).not.toContain('tok');
    expect(JSON.parse(line)).toMatchObject({
      status: 'FAILED',
      startedAt: '1970-01-01T00:00:00.000Z',
      committedResources: ['chat_poll'],
      error: { name: 'DestinationError', code: 'disk_full', exitCode: 1, message: 'committing: the disk is full at /data/x.duckdb (***)' },
    });
  });

  it('masks a credential in a key as well (a widget id in incremental), as the text printout does', () => {
    const secret = 'sk-widget-5e3';
    const line = documentLine({ status: 'LOADED', incremental: { logs: { [`${secret}-x`]: { lastEnd: '2026-01-01' } } } }, (text) => text.replaceAll(secret, '***'));
    expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toEqual({ status: 'LOADED', incremental: { logs: { '***-x': { lastEnd: '2026-01-01' } } } });
  });
});

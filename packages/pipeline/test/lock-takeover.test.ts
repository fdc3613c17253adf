// Runs that find the same dead run lock at the same instant (cron jobs started together after a reboot): exactly
// one of them takes the lock over, the others are told that run is loading. Before, two could each remove the lock
// the other had just made, both extract, and one lose its work at the commit. Separate processes (the lock is
// between processes), started on one clock tick; several rounds, since who wins depends on scheduling.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_DIR, tempDir } from './helpers.js';

// The built module, as the spawned CLI runs it (test/global-setup.ts rebuilds a dist/ older than its sources): through
// tsx each of the 24 contenders spent three times the CPU transforming the source, on 2 shared cores.
const RUN_LOCK = pathToFileURL(join(PACKAGE_DIR, 'dist', 'destination', 'run-lock.js')).href;
const CONTENDERS = 6;
const ROUNDS = 4;

/**
 * One contender: loads, says "ready", reads the agreed instant from stdin, waits for it, tries to take the lock, says
 * how it went, holds until stdin closes.
 */
const contender = `
const { acquireRunLock } = await import(${JSON.stringify(RUN_LOCK)});
const [, stagingRoot, dbPath] = process.argv;
process.stdout.write('ready\\n');
let input = '';
const startAt = await new Promise((resolve) => {
  const read = (d) => { input += d; if (input.includes('\\n')) { process.stdin.off('data', read); resolve(Number(input.split('\\n')[0])); } };
  process.stdin.on('data', read);
});
await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
let outcome;
try { await acquireRunLock(stagingRoot, dbPath); outcome = 'took'; } catch (e) { outcome = e.code ?? e.message; }
process.stdout.write(outcome + '\\n');
process.stdin.on('end', () => process.exit(0));
`;

/** A started contender: `ready` once it has loaded; `start(at)` gives it the instant; `outcome` is its answer. */
function contend(stagingRoot: string, dbPath: string): { ready: Promise<void>; start(at: number): void; outcome: Promise<string> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', contender, '--', stagingRoot, dbPath], {
    cwd: PACKAGE_DIR, stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let isReady!: () => void;
  const ready = new Promise<void>((resolve) => (isReady = resolve));
  const outcome = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('ready\n')) isReady();
      // Every contender holds what it got until all have answered; then all let go.
      const lines = out.split('\n');
      if (lines.length > 2) resolve(lines[1]!.trim());
    });
    child.on('error', reject);
    child.on('exit', (code) => (out.split('\n').length > 2 ? undefined : reject(new Error(`contender exited ${code} without an answer`))));
  });
  held.push(() => child.stdin.end());
  return { ready: Promise.race([ready, outcome.then(() => undefined)]), start: (at) => child.stdin.write(`${at}\n`), outcome };
}
const held: Array<() => void> = [];

describe('a dead run lock found by several runs at once', () => {
  const tmp = tempDir('lock-takeover-');
  afterAll(() => {
    for (const release of held) release();
    tmp.cleanup();
  });

  it('is taken over by exactly one of them', async () => {
    // A PID that was alive a moment ago and is not any more: the lock of a run killed by the reboot.
    const deadPid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    for (let round = 0; round < ROUNDS; round++) {
      const dbPath = join(tmp.dir, `round-${round}.duckdb`);
      const stagingRoot = `${dbPath}.staging`;
      mkdirSync(stagingRoot);
      const dead = { pid: Number(deadPid), host: hostname(), startedAt: new Date(Date.now() - 60_000).toISOString(), token: 'dead-run' };
      writeFileSync(join(stagingRoot, 'run.lock'), `${JSON.stringify(dead)}\n`);
      // One instant for all, once every contender has loaded (a fixed 2.5 s from the spawn before, most of it idle).
      const contenders = Array.from({ length: CONTENDERS }, () => contend(stagingRoot, dbPath));
      await Promise.all(contenders.map((c) => c.ready));
      const startAt = Date.now() + 100;
      for (const c of contenders) c.start(startAt);
      const outcomes = await Promise.all(contenders.map((c) => c.outcome));
      expect(outcomes.filter((o) => o === 'took'), `round ${round}: ${outcomes.join(', ')}`).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'locked')).toHaveLength(CONTENDERS - 1);
      const holder = JSON.parse(readFileSync(join(stagingRoot, 'run.lock'), 'utf8')) as { token: string };
      expect(holder.token).not.toBe('dead-run');
      expect(readdirSync(stagingRoot)).toEqual(['run.lock']); // no guard left behind
      for (const release of held.splice(0)) release();
      rmSync(stagingRoot, { recursive: true, force: true });
    }
  }, 120_000);

  it('a takeover guard left by a run killed while it held it does not block the next runs', async () => {
    const { acquireRunLock } = await import('../src/destination/run-lock.js');
    const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const dbPath = join(tmp.dir, 'stale-guard.duckdb');
    const stagingRoot = `${dbPath}.staging`;
    mkdirSync(stagingRoot);
    writeFileSync(join(stagingRoot, 'run.lock'), `${JSON.stringify({ pid: deadPid, host: hostname(), startedAt: new Date().toISOString(), token: 'dead-run' })}\n`);
    // Fresh: before, runs failed for 10 s ("other runs kept taking it") until its age made it stale.
    writeFileSync(join(stagingRoot, 'run.lock.takeover'), `${deadPid} ${hostname()}\n`);
    const lock = await acquireRunLock(stagingRoot, dbPath);
    expect(lock.holder.pid).toBe(process.pid);
    expect(readdirSync(stagingRoot)).toEqual(['run.lock']);
    await lock.release();
  });
});

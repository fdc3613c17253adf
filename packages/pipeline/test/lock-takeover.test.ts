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

const TSX_LOADER = pathToFileURL(join(PACKAGE_DIR, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const RUN_LOCK = pathToFileURL(join(PACKAGE_DIR, 'src', 'destination', 'run-lock.ts')).href;
const CONTENDERS = 6;
const ROUNDS = 4;

/** One contender: waits for the agreed instant, tries to take the lock, says how it went, holds until stdin closes. */
const contender = `
const { acquireRunLock } = await import(${JSON.stringify(RUN_LOCK)});
const [, stagingRoot, dbPath, startAt] = process.argv;
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
let outcome;
try { await acquireRunLock(stagingRoot, dbPath); outcome = 'took'; } catch (e) { outcome = e.code ?? e.message; }
process.stdout.write(outcome + '\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

function contend(stagingRoot: string, dbPath: string, startAt: number): Promise<string> {
  const child = spawn(process.execPath, ['--conditions=snapengage-source', '--import', TSX_LOADER, '--input-type=module', '-e', contender, '--', stagingRoot, dbPath, String(startAt)], {
    cwd: PACKAGE_DIR, stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Every contender holds what it got until all have answered; then all let go.
      if (out.endsWith('\n')) resolve(out.trim());
    });
    child.on('error', reject);
    child.on('exit', (code) => (out.endsWith('\n') ? undefined : reject(new Error(`contender exited ${code} without an answer`))));
    held.push(() => child.stdin.end());
  });
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
      const startAt = Date.now() + 2500; // after every contender has loaded
      const outcomes = await Promise.all(Array.from({ length: CONTENDERS }, () => contend(stagingRoot, dbPath, startAt)));
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

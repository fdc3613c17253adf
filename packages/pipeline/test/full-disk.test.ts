// A real full disk at each phase of a run: the built CLI loads into a DuckDB file on a tmpfs of a chosen size, which
// fills up, in a private mount namespace (`unshare -m`: the mounts vanish with the process; needs root, skipped
// elsewhere). Where a phase comes after another that also writes (the commit after staging, the spill during the
// commit), the earlier one gets a tmpfs of its own mounted over its directory (`<file>.staging`, `<file>.tmp`), so that
// the disk under test is the one that fills, whatever the data's exact size. Each time: one line naming what filled,
// where, and where to free space; exit 1; the database as it was; no staging left; and once there is space (`mount -o
// remount,size=…`) the next run loads everything, equal to the sandbox's truth.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { BUILT_CLI, collectOutput, expectMatchesTruth, sandbox, spawnBuilt, tempDir, truth, withQueries } from './helpers.js';
import { ensureBuilt } from '../../create-snapengage-pipeline/test/helpers.js';

const DATASET = 'snapengage_data';
const sh = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Whether this process may make a mount namespace and mount a tmpfs in it (root on Linux, not in every container). */
function canMountTmpfs(): boolean {
  if (process.platform !== 'linux') return false;
  const probe = tempDir('sepipe-fulldisk-probe-');
  try {
    const result = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs ${sh(probe.dir)}`], { stdio: 'ignore', timeout: 10_000 });
    return result.status === 0;
  } finally {
    probe.cleanup();
  }
}
const MOUNTABLE = canMountTmpfs();

interface Step {
  name: string;
  /** The CLI's arguments (`--duckdb <tmpfs>/x.duckdb` is added). */
  args: string[];
  /** Before the step: `mount -o remount,size=…` of the tmpfs (or of one mounted over a directory in it). */
  remount?: Array<{ dir?: 'staging' | 'spill'; size: string }>;
}

interface StepResult {
  code: number;
  /** stderr but the progress lines. */
  lines: string[];
  stdout: string;
  /** What the tmpfs holds after the step, and what its staging directory holds (undefined: there is none). */
  entries: string[];
  staging: string[] | undefined;
  /** A copy of the DuckDB file (and its WAL, if any) as the step left it; undefined when there was none. */
  copy: string | undefined;
}

const SUBDIRS = { staging: 'x.duckdb.staging', spill: 'x.duckdb.tmp' } as const;

/**
 * Runs `steps` in one mount namespace (from `base.dir`, with `base.env`) on a tmpfs of `size` holding a copy of
 * `seedFile` (and `seedWal` as its WAL), if given, with a tmpfs of its own over the staging or spill directory where
 * `own` says. The outcome of each step is read from files outside the namespace.
 */
async function onTmpfs(base: { dir: string; env: Record<string, string> }, name: string, o: { size: string; seedFile?: string; seedWal?: string; own?: Partial<Record<'staging' | 'spill', string>>; steps: Step[] }): Promise<StepResult[]> {
  const dir = join(base.dir, name);
  const mnt = join(dir, 'mnt');
  const out = join(dir, 'out');
  mkdirSync(mnt, { recursive: true });
  mkdirSync(out);
  const file = `${mnt}/x.duckdb`;
  const lines = [`mount -t tmpfs -o size=${o.size},mode=700 tmpfs ${sh(mnt)} || exit 90`];
  if (o.seedFile) lines.push(`cp ${sh(o.seedFile)} ${sh(file)} || exit 91`);
  if (o.seedWal) lines.push(`cp ${sh(o.seedWal)} ${sh(`${file}.wal`)} || exit 91`);
  for (const [which, size] of Object.entries(o.own ?? {})) {
    const sub = `${mnt}/${SUBDIRS[which as 'staging' | 'spill']}`;
    lines.push(`mkdir -m 700 ${sh(sub)} && mount -t tmpfs -o size=${size},mode=700 tmpfs ${sh(sub)} || exit 92`);
  }
  for (const step of o.steps) {
    const at = `${out}/${step.name}`;
    for (const r of step.remount ?? []) lines.push(`mount -o remount,size=${r.size} ${sh(r.dir ? `${mnt}/${SUBDIRS[r.dir]}` : mnt)} || exit 93`);
    // Bounded: a step that hangs is killed (and fails the test by its exit code).
    lines.push(`timeout -s KILL 60 ${sh(process.execPath)} ${sh(BUILT_CLI)} ${step.args.map(sh).join(' ')} --duckdb ${sh(file)} >${sh(`${at}.out`)} 2>${sh(`${at}.err`)}; echo $? >${sh(`${at}.code`)}`);
    lines.push(`ls -A ${sh(mnt)} >${sh(`${at}.ls`)}`);
    lines.push(`if [ -d ${sh(`${file}.staging`)} ]; then ls -A ${sh(`${file}.staging`)} >${sh(`${at}.staging`)}; fi`);
    lines.push(`mkdir ${sh(at)}; for f in x.duckdb x.duckdb.wal; do if [ -e ${sh(mnt)}/$f ]; then cp ${sh(mnt)}/$f ${sh(at)}/ || exit 94; fi; done`);
  }
  const child = spawn('unshare', ['-m', 'sh', '-c', lines.join('\n')], {
    cwd: base.dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...base.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = await collectOutput(child);
  expect(done.code, done.stderr).toBe(0);
  return o.steps.map((step) => {
    const at = join(out, step.name);
    const read = (suffix: string) => readFileSync(`${at}${suffix}`, 'utf8');
    return {
      code: Number(read('.code').trim()),
      lines: read('.err').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('[progress')),
      stdout: read('.out'),
      entries: read('.ls').split('\n').filter(Boolean).sort(),
      staging: existsSync(`${at}.staging`) ? read('.staging').split('\n').filter(Boolean) : undefined,
      copy: existsSync(join(at, 'x.duckdb')) ? join(at, 'x.duckdb') : undefined,
    };
  });
}

/** What a run must leave alone: every table's rows (a checksum), the state, and the loads recorded as loaded. */
async function contents(path: string) {
  return withQueries(path, async (run) => {
    const tables = (await run(`SELECT table_name FROM duckdb_tables() WHERE schema_name = '${DATASET}' AND table_name <> '_pipeline_loads' ORDER BY 1`)).map((r) => String(r.table_name));
    const rows: Record<string, unknown> = {};
    for (const table of tables) rows[table] = (await run(`SELECT count(*)::INTEGER AS n, bit_xor(hash(t::VARCHAR))::VARCHAR AS h FROM ${DATASET}."${table}" t`))[0];
    const loaded = (await run(`SELECT load_id, resource FROM ${DATASET}._pipeline_loads WHERE status = 'loaded' ORDER BY 1, 2`));
    return { rows, loaded };
  });
}

/** The one line a full disk gives: the CLI's prefix, no stack, no DuckDB block of "Possible solutions". */
function expectOneLine(result: StepResult, pattern: RegExp) {
  expect(result.lines).toEqual([expect.stringMatching(pattern)]);
  expect(result.code).toBe(1);
}

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.skipIf(!MOUNTABLE)('a real full disk (tmpfs in a mount namespace), built CLI', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let seed: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    await ensureBuilt(['snapengage-client', 'snapengage-pipeline']);
    box = await sandbox({ cases: 600, widgets: 2, days: 10 });
    tmp = tempDir('sepipe-fulldisk-');
    writeFileSync(join(tmp.dir, 'fast.mjs'), `export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } };\n`);
    env = { ...box.env, SNAPENGAGE_DUCKDB_THREADS: '1' };
    // An existing file: a sample of logs (state not advanced, so a full run stages and commits every case again).
    seed = join(tmp.dir, 'seed.duckdb');
    const sample = await collectOutput(spawnBuilt(['run', '--config', 'fast.mjs', '--limit-pages', '1', '--duckdb', seed], { cwd: tmp.dir, env }));
    expect(sample.code, sample.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('staging fills the disk: one line naming the staging directory and where to free space; the file as it was; the next run exact', async () => {
    const size = String(statSync(seed).size + 128 * 1024);
    const [full, freed] = await onTmpfs({ dir: tmp.dir, env }, 'staging', {
      size, seedFile: seed,
      steps: [
        { name: 'full', args: ['run', '--config', 'fast.mjs'] },
        { name: 'freed', args: ['run', '--config', 'fast.mjs'], remount: [{ size: '64m' }] },
      ],
    });
    const mnt = escaped(join(tmp.dir, 'staging', 'mnt'));
    expectOneLine(full!, new RegExp(`^snapengage-pipeline: staging logs: the disk is full at ${mnt}/x\\.duckdb\\.staging/\\S+: free disk space at ${mnt} \\(or point the destination elsewhere\\) and rerun; nothing of this load was committed$`));
    expect(full!.entries).not.toContain('x.duckdb.staging');
    expect(await contents(full!.copy!)).toEqual(await contents(seed));
    expect(freed!.code, freed!.lines.join('\n')).toBe(0);
    expect(freed!.entries).toEqual(['x.duckdb']);
    expect(await expectMatchesTruth(freed!.copy!, DATASET, await truth(box))).toEqual([]);
  }, 60_000);

  it("the commit fills the disk (DuckDB's WAL and blocks): one line, the file as it was, the next run exact", async () => {
    const size = String(statSync(seed).size + 256 * 1024);
    const [full, freed] = await onTmpfs({ dir: tmp.dir, env }, 'commit', {
      size, seedFile: seed, own: { staging: '64m' },
      steps: [
        { name: 'full', args: ['run', '--config', 'fast.mjs'] },
        { name: 'freed', args: ['run', '--config', 'fast.mjs'], remount: [{ size: '64m' }] },
      ],
    });
    const mnt = escaped(join(tmp.dir, 'commit', 'mnt'));
    expectOneLine(full!, new RegExp(`^snapengage-pipeline: committing logs: the disk is full at ${mnt}/x\\.duckdb: free disk space at ${mnt} \\(or point the destination elsewhere\\) and rerun; nothing of this load was committed$`));
    expect(full!.staging).toEqual([]);
    expect(await contents(full!.copy!)).toEqual(await contents(seed));
    expect(freed!.code, freed!.lines.join('\n')).toBe(0);
    expect(await expectMatchesTruth(freed!.copy!, DATASET, await truth(box))).toEqual([]);
  }, 60_000);

  it("a new file's first commit fills the disk: one line, no file left behind, the next run exact", async () => {
    const [full, freed] = await onTmpfs({ dir: tmp.dir, env }, 'new-file', {
      size: '256k', own: { staging: '64m' },
      steps: [
        { name: 'full', args: ['run', '--config', 'fast.mjs'] },
        { name: 'freed', args: ['run', '--config', 'fast.mjs'], remount: [{ size: '64m' }] },
      ],
    });
    const mnt = escaped(join(tmp.dir, 'new-file', 'mnt'));
    expectOneLine(full!, new RegExp(`^snapengage-pipeline: committing logs: the disk is full at ${mnt}/x\\.duckdb: free disk space at ${mnt} `));
    // A partial file would be refused by every later run ("not a readable DuckDB database").
    expect(full!.entries).toEqual(['x.duckdb.staging']);
    expect(full!.staging).toEqual([]);
    expect(freed!.code, freed!.lines.join('\n')).toBe(0);
    expect(await expectMatchesTruth(freed!.copy!, DATASET, await truth(box))).toEqual([]);
  }, 60_000);

  it('the checkpoint at close fills the disk: the load is committed (in the WAL, exit 0) and a warning says so; show and a run on the still-full disk read it; once freed it is folded in; a WAL cut short by a kill is dropped', async () => {
    // Room for a small load's WAL, not for the blocks DuckDB's checkpoint writes into the file at close.
    const size = String(statSync(seed).size + 64 * 1024);
    const [committed, shown, stillFull, freed] = await onTmpfs({ dir: tmp.dir, env }, 'checkpoint', {
      size, seedFile: seed,
      steps: [
        { name: 'committed', args: ['run', '--config', 'fast.mjs', '--resources', 'users', '--json'] },
        { name: 'shown', args: ['show'] },
        // Opening replays the WAL (as after a run killed between its commit and the checkpoint), on a full disk.
        { name: 'still-full', args: ['run', '--config', 'fast.mjs', '--resources', 'users'] },
        { name: 'freed', args: ['run', '--config', 'fast.mjs', '--resources', 'users'], remount: [{ size: '64m' }] },
      ],
    });
    expect(committed!.code, committed!.lines.join('\n')).toBe(0);
    // Said at once (DuckDB's closeSync is silent about it): the WAL, that the load is safe, and the fix.
    const mnt = join(tmp.dir, 'checkpoint', 'mnt');
    const warning = `closing the destination: the disk is full at ${mnt}/x.duckdb, so DuckDB could not fold the load into it: this run's load is committed and safe in ${mnt}/x.duckdb.wal, which DuckDB folds into the file when it next opens it; free disk space at ${mnt} (until then a run on this file may fail on the full disk)`;
    expect(committed!.lines).toEqual([`snapengage-pipeline: warning: ${warning}`]);
    const document = JSON.parse(committed!.stdout.trim().split('\n').at(-1)!);
    expect([document.status, document.checkpointFailed]).toEqual(['LOADED', { wal: `${mnt}/x.duckdb.wal`, message: warning }]);
    expect(committed!.entries).toEqual(['x.duckdb', 'x.duckdb.wal']);
    const users = async (path: string) => withQueries(path, async (run) => ({
      rows: Number((await run(`SELECT count(*) AS n FROM ${DATASET}.users`))[0]!.n),
      loaded: Number((await run(`SELECT count(*) AS n FROM ${DATASET}._pipeline_loads WHERE resource = 'users' AND status = 'loaded'`))[0]!.n),
    }));
    expect(await users(committed!.copy!)).toEqual({ rows: 1, loaded: 1 });
    expect(shown!.code, shown!.lines.join('\n')).toBe(0);
    expect(shown!.stdout).toMatch(/users\s+1 row/);
    // Whatever it meets first on the full disk, a clear line and exit 1, and the committed load still there.
    expectOneLine(stillFull!, /^snapengage-pipeline: .*the disk is full at .*: free disk space at /);
    expect(stillFull!.entries).not.toContain('x.duckdb.staging');
    expect(await users(stillFull!.copy!)).toEqual({ rows: 1, loaded: 1 });
    expect(freed!.code, freed!.lines.join('\n')).toBe(0);
    expect(freed!.lines).toEqual([]); // folded in: nothing to warn of
    expect(freed!.stdout).toMatch(/^Pipeline .* load step completed/);
    expect(freed!.entries).toEqual(['x.duckdb']);
    expect(await users(freed!.copy!)).toEqual({ rows: 1, loaded: 2 });
    expect(await contents(freed!.copy!).then((c) => c.rows.logs)).toEqual((await contents(seed)).rows.logs);

    // A run killed while it wrote that WAL: the WAL cut short (its commit record never written), on a disk as full.
    const wal = `${committed!.copy!}.wal`;
    const cut = join(tmp.dir, 'cut.wal');
    writeFileSync(cut, readFileSync(wal).subarray(0, Math.floor(statSync(wal).size / 2)));
    const [shownCut, freedCut] = await onTmpfs({ dir: tmp.dir, env }, 'killed', {
      size: String(statSync(committed!.copy!).size + statSync(cut).size + 16 * 1024), seedFile: committed!.copy!, seedWal: cut,
      steps: [
        { name: 'shown', args: ['show'] },
        { name: 'freed', args: ['run', '--config', 'fast.mjs', '--resources', 'users'], remount: [{ size: '64m' }] },
      ],
    });
    expect(shownCut!.code, shownCut!.lines.join('\n')).toBe(0);
    expect(shownCut!.stdout).toMatch(/logs\s+\d+ rows/);
    expect(shownCut!.stdout).not.toMatch(/users\s+\d+ row/);
    expect(await contents(shownCut!.copy!)).toEqual(await contents(seed));
    expect(freedCut!.code, freedCut!.lines.join('\n')).toBe(0);
    expect(freedCut!.entries).toEqual(['x.duckdb']);
    expect(await users(freedCut!.copy!)).toEqual({ rows: 1, loaded: 1 });
  }, 60_000);
});

// Loads big enough for DuckDB to write otherwise: past a 64MB memory limit it spills to `<file>.tmp`, and a commit
// whose WAL would pass its checkpoint threshold (16 MiB) is written into the file by a checkpoint instead.
describe.skipIf(!MOUNTABLE)('a real full disk under a big load, built CLI', () => {
  let spilling: Sandbox;
  let big: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    await ensureBuilt(['snapengage-client', 'snapengage-pipeline']);
    // Measured: a 64MB limit wrote ~6.5 MB to x.duckdb.tmp at 5,000 cases, nothing at 2,000; 5,000 cases still went
    // to the WAL (~11 MB), 10,000 were checkpointed at the commit.
    spilling = await sandbox({ cases: 5000, widgets: 2, days: 10 });
    big = await sandbox({ cases: 10_000, widgets: 2, days: 10 });
    tmp = tempDir('sepipe-fulldisk-big-');
    writeFileSync(join(tmp.dir, 'fast.mjs'), `export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } };\n`);
  }, 60_000);
  afterAll(async () => {
    await spilling?.close();
    await big?.close();
    tmp?.cleanup();
  });

  it('says the disk is full where DuckDB spills, not only "out of memory"; no file left; the next run exact', async () => {
    const env = { ...spilling.env, SNAPENGAGE_DUCKDB_THREADS: '1', SNAPENGAGE_DUCKDB_MEMORY_LIMIT: '64MB' };
    // The spill directory alone is small: the disk that fills is the one DuckDB spills to.
    const [full, freed] = await onTmpfs({ dir: tmp.dir, env }, 'spill', {
      size: '64m', own: { spill: '1m' },
      steps: [
        { name: 'full', args: ['run', '--config', 'fast.mjs'] },
        { name: 'freed', args: ['run', '--config', 'fast.mjs'], remount: [{ dir: 'spill', size: '64m' }] },
      ],
    });
    const mnt = escaped(join(tmp.dir, 'spill', 'mnt'));
    expectOneLine(full!, new RegExp(
      `^snapengage-pipeline: committing logs: the disk is full at ${mnt}/x\\.duckdb\\.tmp, where DuckDB writes what does not fit in its memory limit \\(Out of Memory Error: failed to offload data block of size .* used\\)\\): free disk space at ${mnt} or raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT \\(less is written there\\), then rerun; nothing of this load was committed$`,
    ));
    // The new file was removed, and the staging directory (the spill directory, a mount point here, stays).
    expect(full!.entries).toEqual(['x.duckdb.tmp']);
    expect(freed!.code, freed!.lines.join('\n')).toBe(0);
    expect(await expectMatchesTruth(freed!.copy!, DATASET, await truth(spilling))).toEqual([]);
  }, 90_000);

  it("a commit DuckDB writes by a checkpoint fills the disk (DuckDB's FATAL error): one line, the file as it was, the next run exact", async () => {
    const env = { ...big.env, SNAPENGAGE_DUCKDB_THREADS: '1' };
    const seed = join(tmp.dir, 'big-seed.duckdb');
    const sample = await collectOutput(spawnBuilt(['run', '--config', 'fast.mjs', '--limit-pages', '1', '--duckdb', seed], { cwd: tmp.dir, env }));
    expect(sample.code, sample.stderr).toBe(0);
    const [full, freed] = await onTmpfs({ dir: tmp.dir, env }, 'checkpoint-commit', {
      size: String(statSync(seed).size + 1024 * 1024), seedFile: seed, own: { staging: '128m' },
      steps: [
        { name: 'full', args: ['run', '--config', 'fast.mjs'] },
        { name: 'freed', args: ['run', '--config', 'fast.mjs'], remount: [{ size: '128m' }] },
      ],
    });
    const mnt = escaped(join(tmp.dir, 'checkpoint-commit', 'mnt'));
    expectOneLine(full!, new RegExp(`^snapengage-pipeline: committing logs: the disk is full at ${mnt}/x\\.duckdb: free disk space at ${mnt} \\(or point the destination elsewhere\\) and rerun; nothing of this load was committed$`));
    // No WAL to replay: the load is not half in the file.
    expect(full!.entries).toEqual(['x.duckdb', 'x.duckdb.staging']);
    expect(full!.staging).toEqual([]);
    expect(await contents(full!.copy!)).toEqual(await contents(seed));
    expect(freed!.code, freed!.lines.join('\n')).toBe(0);
    expect(await expectMatchesTruth(freed!.copy!, DATASET, await truth(big))).toEqual([]);
  }, 90_000);
});

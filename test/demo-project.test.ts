// The demo replaces snapengage-demo/ only when it is as the demo made it; edits and a user's .env are kept aside.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { FINGERPRINT_FILE, changedFiles, keepEditedProject, scaffoldArgs, scaffoldSummary, writeFingerprint } from './demo-project.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A project as the scaffolder writes it, then what the demo's own install and run add to it. */
function madeByDemo(): string {
  root = mkdtempSync(join(tmpdir(), 'demo-project-'));
  const dir = join(root, 'snapengage-demo');
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"name":"snapengage-demo"}\n');
  writeFileSync(join(dir, 'src', 'pipeline.ts'), 'export default {};\n');
  writeFingerprint(dir);
  mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'x', 'index.js'), '');
  writeFileSync(join(dir, 'package-lock.json'), '{}');
  writeFileSync(join(dir, 'snapengage.duckdb'), 'data');
  return dir;
}

describe('the demo project', () => {
  it('as the demo made it (installed and loaded): replaced, nothing kept', () => {
    const dir = madeByDemo();
    expect(changedFiles(dir)).toEqual([]);
    expect(keepEditedProject(dir)).toBeNull();
    expect(existsSync(dir)).toBe(true); // left for the scaffolder's --overwrite
  });

  it('edited, or given a .env, or a file removed: moved aside whole, with what changed', () => {
    const dir = madeByDemo();
    writeFileSync(join(dir, 'src', 'pipeline.ts'), 'export default { edited: true };\n');
    writeFileSync(join(dir, '.env'), 'SNAPENGAGE_API_TOKEN=mine\n');
    rmSync(join(dir, 'package.json'));
    const kept = keepEditedProject(dir, new Date('2026-11-27T13:45:00.123Z'));
    expect(kept).toEqual({ keptAs: `${dir}.kept-2026-11-27T13-45-00-123Z`, changed: ['.env', 'package.json', 'src/pipeline.ts'] });
    expect(existsSync(dir)).toBe(false);
    expect(readFileSync(join(kept!.keptAs, '.env'), 'utf8')).toBe('SNAPENGAGE_API_TOKEN=mine\n');
    expect(existsSync(join(kept!.keptAs, 'snapengage.duckdb'))).toBe(true);
  });

  it('with no fingerprint (made by hand, or by an older demo): kept, not deleted', () => {
    const dir = madeByDemo();
    rmSync(join(dir, FINGERPRINT_FILE));
    const kept = keepEditedProject(dir);
    expect(kept?.changed).toBeNull();
    expect(existsSync(join(kept!.keptAs, 'src', 'pipeline.ts'))).toBe(true);
  });

  it('no project yet: nothing to do', () => {
    root = mkdtempSync(join(tmpdir(), 'demo-project-'));
    expect(keepEditedProject(join(root, 'snapengage-demo'))).toBeNull();
  });
});

describe("the demo's scaffolding step", () => {
  it('shows what was created without the "Next:" steps the demo then does itself; users still get them', () => {
    root = mkdtempSync(join(tmpdir(), 'demo-scaffold-'));
    const packs = join(root, 'packs');
    mkdirSync(packs);
    // --no-install only checks that the tarballs are there: empty ones will do.
    for (const name of ['snapengage-pipeline', 'snapengage-client', 'snapengage-sandbox']) writeFileSync(join(packs, `${name}-0.1.0.tgz`), '');
    const cli = join(import.meta.dirname, '..', 'packages', 'create-snapengage-pipeline', 'dist', 'cli.js');
    const scaffolder = spawnSync(process.execPath, [cli, ...scaffoldArgs('snapengage-demo', 'logs,widgets', packs)], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(scaffolder.status).toBe(0);
    const output = scaffolder.stdout + scaffolder.stderr;
    // What the scaffolder prints for users, unchanged: the demo only leaves it out.
    expect(output).toMatch(/^Done\. Next:\n  cd snapengage-demo\n  npm install\n  cp \.env\.example \.env .*\n  npm start\n$/m);
    expect(scaffoldSummary(output)).toMatch(/^Created .*snapengage-demo \(\d+ files\) loading logs, widgets\.\nDone\.$/);
  });
});


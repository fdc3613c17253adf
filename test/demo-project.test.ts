// The demo replaces snapengage-demo/ only when it is as the demo made it; edits and a user's .env are kept aside.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FINGERPRINT_FILE, changedFiles, keepEditedProject, writeFingerprint } from './demo-project.js';

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

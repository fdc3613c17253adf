// --add replaces each file it edits by renaming a new text over it: the file's mode and a symlink to it must survive
// that, as an edit in place would keep them.
import { chmodSync, existsSync, lstatSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addToProject } from '../src/add.js';
import { scaffoldProject } from './scaffolded-project.js';
import { loadCatalog } from '../src/catalog.js';

const catalog = loadCatalog();
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function makeProject(): string {
  return scaffoldProject(['logs'], dirs, 'add-files-');
}

describe('--add and the files it replaces', () => {
  it.skipIf(process.platform === 'win32')('keeps each edited file\'s mode (a group-writable or owner-only one)', () => {
    const dir = makeProject();
    const modes = { 'src/pipeline.ts': 0o664, '.env.example': 0o600, 'README.md': 0o640 };
    for (const [file, mode] of Object.entries(modes)) chmodSync(join(dir, file), mode);
    const summary = addToProject(dir, dir, ['widgets'], catalog);
    expect(summary.added).toEqual(['widgets']);
    expect(summary.envVarsAdded.length).toBeGreaterThan(0);
    expect(summary.readme).toEqual({ updated: true });
    for (const [file, mode] of Object.entries(modes)) expect([file, statSync(join(dir, file)).mode & 0o7777]).toEqual([file, mode]);
  });

  it.skipIf(process.platform === 'win32')('edits the file a symlinked src/pipeline.ts points to, and the link stays a link', () => {
    const dir = makeProject();
    const real = join(dir, 'shared-pipeline.ts');
    renameSync(join(dir, 'src/pipeline.ts'), real);
    symlinkSync(real, join(dir, 'src/pipeline.ts'));
    addToProject(dir, dir, ['widgets'], catalog);
    expect(lstatSync(join(dir, 'src/pipeline.ts')).isSymbolicLink()).toBe(true);
    expect(realpathSync(join(dir, 'src/pipeline.ts'))).toBe(realpathSync(real));
    expect(readFileSync(real, 'utf8')).toMatch(/\n {4}widgets: true,\n/);
  });
});

describe('--add with a path no shell expanded', () => {
  it.skipIf(process.platform === 'win32')('names the home path a quoted `~/proj` most likely meant, and the full path for `~user/proj`', () => {
    const project = makeProject();
    const home = join(project, '..');
    const name = project.slice(home.length + 1);
    const saved = process.env.HOME;
    process.env.HOME = home; // os.homedir() reads it on POSIX
    try {
      expect(() => addToProject(`~/${name}`, '/', ['widgets'], catalog)).toThrow(
        `~ is not expanded here (a shell expands it only unquoted): pass ${JSON.stringify(project)}`,
      );
      expect(() => addToProject(`~bob/${name}`, '/', ['widgets'], catalog)).toThrow(/~bob is not expanded here .*: pass the full path$/);
      // A plain path that is not a project says only that.
      expect(() => addToProject('elsewhere', project, ['widgets'], catalog)).toThrow(/pass its directory\)$/);
    } finally {
      if (saved === undefined) delete process.env.HOME;
      else process.env.HOME = saved;
    }
  });
});

describe('--add and .env.example', () => {
  it('names an added resource in the "Needed by:" of a variable the project already has, as a new project with both says', () => {
    const dir = scaffoldProject(['widgets'], dirs, 'add-files-');
    const envExample = () => readFileSync(join(dir, '.env.example'), 'utf8');
    expect(envExample()).toContain('# Needed by: widgets\nSNAPENGAGE_PROVISIONING_KEY=');
    const summary = addToProject(dir, dir, ['users'], catalog);
    // users needs no variable widgets did not; before, .env.example was left saying only widgets needs them.
    expect(summary.envVarsAdded).toEqual([]);
    expect(envExample()).toContain('# Needed by: widgets, users\nSNAPENGAGE_PROVISIONING_KEY=');
    expect(envExample()).toBe(readFileSync(join(scaffoldProject(['widgets', 'users'], dirs, 'add-files-'), '.env.example'), 'utf8'));
  });

  it('leaves .env.example as it is (not replaced, not created) when its text does not change', () => {
    // Mutation add.ts E2 (.env.example written on every --add, survived): an --add of a resource already there replaced
    // the file with the same text, and made an empty one in a project without it.
    const dir = makeProject();
    const envPath = join(dir, '.env.example');
    const before = statSync(envPath).ino;
    expect(addToProject(dir, dir, ['logs'], catalog).alreadyPresent).toEqual(['logs']);
    expect(statSync(envPath).ino).toBe(before);
    rmSync(envPath);
    expect(addToProject(dir, dir, ['logs'], catalog).alreadyPresent).toEqual(['logs']);
    expect(existsSync(envPath)).toBe(false);
  });
});

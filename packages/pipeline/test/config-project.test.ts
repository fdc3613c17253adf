// Which project a --config file belongs to, against real directories: a note that the run reads .env and a relative
// destination.path from elsewhere must not be said when the working directory is the project under another name.
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newFileElsewhereNote, otherProject } from '../src/config-project.js';
import { tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let project: string;
beforeEach(() => {
  tmp = tempDir('sepipe-config-project-');
  project = join(realpathSync(tmp.dir), 'releases', '42');
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(project, 'src', 'pipeline.ts'), 'export default { resources: { users: true } };\n');
});
afterEach(() => tmp.cleanup());

describe('otherProject', () => {
  it('is the config\'s project when the run starts elsewhere (cron\'s HOME)', () => {
    const home = join(tmp.dir, 'home');
    mkdirSync(home);
    expect(otherProject(join(project, 'src', 'pipeline.ts'), home)).toBe(project);
    expect(newFileElsewhereNote(project, 'snapengage.duckdb', home)).toContain(`run from ${project}`);
  });

  it('is none when the working directory is the project reached through a symbolic link (a deploy\'s current/)', () => {
    // `cd /srv/app/current && snapengage-pipeline run --config /srv/app/current/src/pipeline.ts`: the process's working
    // directory is the link's target, the config's path goes through the link. The note said to run from
    // /srv/app/current, which is what the command did.
    const current = join(tmp.dir, 'current');
    symlinkSync(project, current);
    expect(otherProject(join(current, 'src', 'pipeline.ts'), project)).toBeUndefined();
    // And the other way round: started in the link, the config named by its real path.
    expect(otherProject(join(project, 'src', 'pipeline.ts'), current)).toBeUndefined();
  });

  it('is none for the project itself, and for a config of no project', () => {
    expect(otherProject(join(project, 'src', 'pipeline.ts'), project)).toBeUndefined();
    expect(otherProject('src/pipeline.ts', project)).toBeUndefined();
  });
});

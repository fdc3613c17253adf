// --add and the project README's "Resources:" line: rewritten only while it is as the scaffolder wrote it; otherwise
// left alone, and the output says what to update by hand.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { addToProject } from '../src/add.js';
import { scaffoldProject } from './scaffolded-project.js';
import { main } from '../src/main.js';
import { loadCatalog } from '../src/catalog.js';
import { renderProjectFiles } from '../src/project.js';
import { addToResourcesBlock } from '../src/readme-block.js';
import { createRenderer, templatesRoot } from '../src/render.js';

const catalog = loadCatalog();
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function makeProject(resources: string[]): string {
  return scaffoldProject(resources, dirs, 'add-readme-');
}

const readme = (dir: string) => readFileSync(join(dir, 'README.md'), 'utf8');

describe('--add and README.md', () => {
  it('updates the Resources line of an unedited README and the per-record note after it, nothing else', () => {
    const dir = makeProject(['logs']);
    const before = readme(dir);
    expect(before).toContain('Resources: `logs`.');
    const summary = addToProject(dir, dir, ['chat_poll'], catalog);
    expect(summary.readme).toEqual({ updated: true });
    const after = readme(dir);
    expect(after).toContain('Resources: `logs`, `chat_poll`.');
    // The note on per-record resources follows (the sandbox is slow for them at the default rate limit): the README
    // is the one a project made with both from the start has.
    const fresh = readme(makeProject(['logs', 'chat_poll']));
    expect(fresh).toContain('`chat_poll` makes one request per `logs` record');
    expect(after).toBe(fresh);
    expect(after.replace('`logs`, `chat_poll`', '`logs`').replace(/\n`chat_poll` makes one request[^]*?real credentials\.\n/, '\n')).toBe(before);
  });

  it('leaves an edited per-record note as it is, and still updates the Resources line', () => {
    const dir = makeProject(['logs', 'chat_poll']);
    const edited = readme(dir).replace('so 300 cases take about 30 s', 'so our 300 cases take about 30 s');
    writeFileSync(join(dir, 'README.md'), edited);
    expect(addToProject(dir, dir, ['widgets'], catalog).readme).toEqual({ updated: true });
    expect(readme(dir)).toBe(edited.replace('Resources: `logs`, `chat_poll`.', 'Resources: `logs`, `chat_poll`, `widgets`.'));
  });

  it('keeps a README whose Resources line the user edited, and says what to add there', () => {
    const dir = makeProject(['logs']);
    const edited = readme(dir).replace('Resources: `logs`.', 'Resources: `logs` (all our chats).');
    writeFileSync(join(dir, 'README.md'), edited);
    const summary = addToProject(dir, dir, ['widgets'], catalog);
    expect(summary.readme).toEqual({ updated: false, mention: ['widgets'] });
    expect(readme(dir)).toBe(edited);
  });

  it('keeps a README without the generated block (deleted by the user), and says what to add', () => {
    const dir = makeProject(['logs']);
    writeFileSync(join(dir, 'README.md'), '# mine\n\nResources: logs and more.\n');
    const summary = addToProject(dir, dir, ['widgets'], catalog);
    expect(summary.readme).toEqual({ updated: false, mention: ['widgets'] });
    expect(readme(dir)).toBe('# mine\n\nResources: logs and more.\n');
  });

  it('leaves the README alone when nothing was added, or when there is none', () => {
    const dir = makeProject(['logs', 'widgets']);
    const before = readme(dir);
    expect(addToProject(dir, dir, ['widgets'], catalog).readme).toBeNull();
    expect(readme(dir)).toBe(before);
    rmSync(join(dir, 'README.md'));
    expect(addToProject(dir, dir, ['users'], catalog).readme).toBeNull();
  });

  it('keeps CRLF line ends (a git autocrlf checkout) while updating the line', () => {
    const dir = makeProject(['widgets']);
    writeFileSync(join(dir, 'README.md'), readme(dir).replaceAll('\n', '\r\n'));
    expect(addToProject(dir, dir, ['chat_poll'], catalog).readme).toEqual({ updated: true });
    expect(readme(dir)).toContain('\r\nResources: `widgets`, `logs`, `chat_poll`.\r\n');
    expect(readme(dir).replaceAll('\r\n', '')).not.toContain('\n');
  });

  it('updates the line when the templates have CRLF line ends (a Windows clone with autocrlf scaffolds from them)', () => {
    const root = mkdtempSync(join(tmpdir(), 'crlf-templates-'));
    dirs.push(root);
    cpSync(templatesRoot(), root, { recursive: true });
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      const file = join(entry.parentPath, entry.name);
      if (entry.isFile()) writeFileSync(file, readFileSync(file, 'utf8').replaceAll('\n', '\r\n'));
    }
    const renderer = createRenderer(root);
    const plan = { target: { path: join(root, 'p'), name: 'p' }, resources: ['logs'], startDate: null, credentials: null, packagesDir: null, packageManager: 'npm' as const, overwrite: false };
    const files = renderProjectFiles(plan, catalog, renderer);
    // The same project as from LF templates: one kind of line end per file.
    expect(files).toEqual(renderProjectFiles(plan, catalog));
    const update = addToResourcesBlock(files.get('README.md')!, ['widgets'], renderer, catalog);
    expect(update).toMatchObject({ updated: true, text: expect.stringContaining('Resources: `logs`, `widgets`.') });
  });

  it('the CLI says whether it updated the README or what to add there by hand', async () => {
    const dir = makeProject(['logs']);
    const run = async (argv: string[]) => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString()));
      const code = await main({ argv, env: {}, cwd: dir, stdin: new PassThrough(), stdout, stderr: new PassThrough(), catalog });
      return { code, out };
    };
    expect(await run(['--add', 'chat_poll'])).toEqual({ code: 0, out: expect.stringContaining('Updated the Resources line of README.md.') });
    writeFileSync(join(dir, 'README.md'), readme(dir).replace('`chat_poll`.', '`chat_poll` (ours).'));
    const kept = await run(['--add', 'users']);
    expect(kept.code).toBe(0);
    expect(kept.out).toContain('Left README.md as is (its generated Resources line was edited or removed): add users there by hand if it lists them.');
    // logs came along with chat_poll above and was already there: not reported as if the user had asked for it.
    const child = await run(['--add', 'visitor_typing']);
    expect(child.out).toContain('Added visitor_typing to src/pipeline.ts.');
    expect(child.out).not.toContain('Already in');
    expect((await run(['--add', 'logs,users'])).out).toContain('Already in src/pipeline.ts: logs, users.');
  });
});

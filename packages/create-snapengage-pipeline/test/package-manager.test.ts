// What a project needs to install and run with pnpm and yarn, checked on the rendered files. Each case was found by
// installing a scaffolded project with that package manager (pnpm 9, 10 and 12, yarn 1 and 4); the suite does not
// download package managers, so it checks the files those installs needed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../src/catalog.js';
import { detectPackageManagerMajor, resolveOptions, type PackageManager } from '../src/options.js';
import { renderProjectFiles } from '../src/project.js';

const catalog = loadCatalog();

const madeDirs: string[] = [];
afterAll(() => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

function packsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'packs-'));
  madeDirs.push(dir);
  for (const f of ['snapengage-pipeline-0.1.0.tgz', 'snapengage-client-0.1.0.tgz', 'snapengage-sandbox-0.1.0.tgz']) writeFileSync(join(dir, f), '');
  return dir;
}

function render(packageManager: PackageManager, packageManagerMajor: number | null, packagesDir: string | null = null) {
  return renderProjectFiles(
    { target: { path: '/tmp/p', name: 'p' }, resources: ['logs'], startDate: null, credentials: null, packagesDir, packageManager, packageManagerMajor, overwrite: false },
    catalog,
  );
}

describe('package manager specifics', () => {
  it('reads the major version from npm_config_user_agent', () => {
    expect(detectPackageManagerMajor('pnpm/9.15.9 npm/? node/v20.20.2 linux x64')).toBe(9);
    expect(detectPackageManagerMajor('yarn/4.18.1 npm/? node/v20.20.2 linux x64')).toBe(4);
    expect(detectPackageManagerMajor(undefined)).toBeNull();
    expect(detectPackageManagerMajor('pnpm')).toBeNull();
    expect(detectPackageManagerMajor('pnpm/9')).toBe(9); // as the README tells a local scaffold to set it
    expect(resolveOptions(['--yes'], { npm_config_user_agent: 'pnpm/12.21.0 npm/? node/v20.20.2 linux x64' }, false, catalog)).toMatchObject({ packageManager: 'pnpm', packageManagerMajor: 12 });
  });

  it('with --packages, pnpm and yarn take the pipeline\'s snapengage-client from the tarball, not the registry (404)', () => {
    const dir = packsDir();
    const client = `file:${join(dir, 'snapengage-client-0.1.0.tgz')}`;
    // pnpm 9 and 10 read overrides from package.json; pnpm 9 refuses a pnpm-workspace.yaml without `packages`.
    for (const major of [9, 10, null]) {
      const files = render('pnpm', major, dir);
      expect(JSON.parse(files.get('package.json')!).pnpm).toEqual({ onlyBuiltDependencies: ['esbuild'], overrides: { 'snapengage-client': client } });
      expect(files.has('pnpm-workspace.yaml')).toBe(false);
    }
    // pnpm 11 and later read them only from pnpm-workspace.yaml (11 itself: the boundary).
    for (const major of [11, 12]) {
      const files = render('pnpm', major, dir);
      expect(JSON.parse(files.get('package.json')!).pnpm).toBeUndefined();
      expect(parseYaml(files.get('pnpm-workspace.yaml')!)).toEqual({ allowBuilds: { esbuild: true }, overrides: { 'snapengage-client': client } });
    }
    // yarn 1 and 2+ alike.
    for (const major of [1, 4]) {
      expect(JSON.parse(render('yarn', major, dir).get('package.json')!).resolutions).toEqual({ 'snapengage-client': client });
    }
    // npm needs nothing: it takes the project's own tarball for the pipeline's dependency.
    const npm = JSON.parse(render('npm', 11, dir).get('package.json')!);
    expect(Object.keys(npm)).not.toContain('overrides');
    expect(Object.keys(npm)).not.toContain('resolutions');
  });

  it('a published pnpm 11+ project allows esbuild\'s build script, whose absence fails pnpm 11+ installs', () => {
    expect(parseYaml(render('pnpm', 12, null).get('pnpm-workspace.yaml')!)).toEqual({ allowBuilds: { esbuild: true } });
    expect(JSON.parse(render('pnpm', 10, null).get('package.json')!).pnpm).toEqual({ onlyBuiltDependencies: ['esbuild'] });
    // package.json keeps the template's layout when fields are added.
    expect(render('pnpm', 10, null).get('package.json')).toMatch(/^\{\n  "name": "p",\n[\s\S]*\n  "pnpm": \{\n    "onlyBuiltDependencies": \[\n      "esbuild"\n    \]\n  \}\n\}\n$/);
    for (const pm of ['npm', 'yarn', 'bun'] as const) expect(render(pm, 12, null).has('pnpm-workspace.yaml')).toBe(false);
  });

  it("an npm project approves esbuild's install script in allowScripts: npm 11.16+ warns about it at every install, npm 12 skips it", () => {
    // Whatever the major (none when run from a clone): older npm ignores the field.
    for (const major of [null, 10, 11, 12]) {
      expect(JSON.parse(render('npm', major).get('package.json')!).allowScripts).toEqual({ esbuild: true });
    }
    for (const pm of ['pnpm', 'yarn', 'bun'] as const) expect(JSON.parse(render(pm, 12).get('package.json')!).allowScripts).toBeUndefined();
  });

  it('a yarn project gitignores Yarn 2+\'s Plug\'n\'Play files (its cache is over 100 MB) and says how editors resolve imports', () => {
    const yarn = render('yarn', 4);
    const ignored = yarn.get('.gitignore')!.split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['.pnp.*', '.yarn/*', '!.yarn/releases', '!.yarn/sdks']));
    expect(yarn.get('README.md')).toContain('yarn dlx @yarnpkg/sdks vscode');
    expect(render('npm', null).get('.gitignore')).not.toContain('.yarn');
    expect(render('pnpm', 9).get('README.md')).not.toContain('@yarnpkg/sdks');
  });

  it('README commands work with the package manager: no `--` before script flags but for npm, tsx through the project', () => {
    expect(render('npm', null).get('README.md')).toContain('`npm run start -- --resources logs` loads a subset');
    expect(render('npm', null).get('README.md')).toContain('run with `npx tsx query.ts`');
    for (const [pm, exec] of [['pnpm', 'pnpm exec'], ['yarn', 'yarn'], ['bun', 'bunx']] as const) {
      const readme = render(pm, null).get('README.md')!;
      // yarn 1 warns about a `--`; pnpm and yarn 2+ hand it to the script.
      expect(readme).toContain(`\`${pm} run start --resources logs\` loads a subset`);
      // `npx tsx` under Yarn Plug'n'Play downloads a tsx that cannot resolve snapengage-pipeline.
      expect(readme).toContain(`run with \`${exec} tsx query.ts\``);
    }
  });
});

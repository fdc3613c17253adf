import { parseEnv } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../src/catalog.js';
import { helpText } from '../src/options.js';
import { dependencySpecs, findTarball } from '../src/dependencies.js';
import { appendEnvExample, formatEnvValue, renderDotEnv } from '../src/env-file.js';
import { renderProjectFiles } from '../src/project.js';
import { createRenderer, escapeMarkdown, outputName } from '../src/render.js';
import { shellWord } from '../src/shell-word.js';
import { checkPackageName, checkPackagesKept, checkTargetFree, resolveTarget, TargetError } from '../src/target.js';
import { main } from '../src/main.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

const catalog = loadCatalog();
const plan = (resources: string[], name = 'my-pipe') => ({
  target: { path: `/tmp/${name}`, name },
  resources,
  startDate: null,
  credentials: null,
  packagesDir: null,
  packageManager: 'npm' as const,
  overwrite: false,
});

describe('rendered project files', () => {
  it('emits every file, parseable, with only the env vars the resources need', () => {
    const files = renderProjectFiles(plan(['widgets']), catalog);
    expect([...files.keys()].sort()).toEqual(
      ['.env.example', '.gitignore', 'AGENTS.md', 'README.md', 'package.json', 'src/pipeline.ts', 'test/pipeline.test.ts', 'tsconfig.json'],
    );
    const pkg = JSON.parse(files.get('package.json')!);
    expect(pkg.scripts).toMatchObject({ start: expect.stringContaining('snapengage-pipeline run'), show: expect.any(String), check: 'tsc --noEmit' });
    expect(pkg.dependencies['snapengage-pipeline']).toMatch(/^\^\d/);
    const envNames = Object.keys(parseEnv(files.get('.env.example')!)).sort();
    expect(envNames).toEqual(['SNAPENGAGE_EMAIL', 'SNAPENGAGE_PROVISIONING_KEY', 'SNAPENGAGE_WIDGET_ID']);
    expect(files.get('.env.example')).toContain('Request a Provisioning API key from support@snapengage.com');
    expect(files.get('.gitignore')!.split('\n')).toEqual(expect.arrayContaining(['.env', '.env.sandbox', '*.duckdb', '*.duckdb.staging/', '*.duckdb.tmp/', 'node_modules']));
    expect(files.get('AGENTS.md')).toMatch(/Never read, print or edit `\.env`/);
  });

  it("PROJECT.md names every entry of the project's .gitignore (it had left out DuckDB's spill directory .tmp/)", () => {
    const doc = readFileSync(fileURLToPath(new URL('../PROJECT.md', import.meta.url)), 'utf8');
    const listed = doc.slice(doc.indexOf('`.gitignore` ('), doc.indexOf('`.env.example` ('));
    const entries = renderProjectFiles(plan(['logs']), catalog).get('.gitignore')!.split('\n').filter((line) => line && !line.startsWith('#'));
    // `*.duckdb.wal` is written as "`*.duckdb` with its `.wal`".
    const named = entries.map((entry) => entry.replace(/^\*\.duckdb(?=\.)/, ''));
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((entry) => !listed.includes(`\`${entry}\``))).toEqual([]);
  });

  it('says only what applies to the chosen resources: start-date notes for incremental ones, the chosen names', () => {
    const widgets = renderProjectFiles(plan(['widgets']), catalog);
    expect(widgets.get('README.md')).not.toMatch(/first run loads from|Moving the start date/);
    expect(widgets.get('AGENTS.md')).toContain('Resources chosen at creation: `widgets`. ');
    const logs = renderProjectFiles(plan(['logs', 'widgets']), catalog);
    expect(logs.get('README.md')).toMatch(/The first run loads from `SNAPENGAGE_START_DATE`[^]*Moving the start date earlier/);
    expect(logs.get('AGENTS.md')).toContain('Resources chosen at creation: `logs`, `widgets`. ');
  });

  it("names Plug'n'Play's missing node_modules/.bin to Yarn projects only", () => {
    const pnp = "(Plug'n'Play has no";
    expect(renderProjectFiles({ ...plan(['logs']), packageManager: 'yarn' as const }, catalog).get('README.md')).toContain(pnp);
    for (const packageManager of ['npm', 'pnpm', 'bun'] as const) {
      expect(renderProjectFiles({ ...plan(['logs']), packageManager }, catalog).get('README.md')).not.toContain(pnp);
    }
  });

  it("README's dlt table names the variables of the spec's catalog, not a copy of them", () => {
    // A spec that renames a credential's or an id's variable: the table must follow, as .env.example does.
    const renamed = catalog.map((c) => ({
      ...c,
      credentialEnv: c.credentialEnv === 'SNAPENGAGE_PROVISIONING_KEY' ? 'SNAPENGAGE_PROV_KEY' : c.credentialEnv,
      envVars: c.envVars.map((v) => ({ ...v, name: v.name.replace('SNAPENGAGE_PROVISIONING_KEY', 'SNAPENGAGE_PROV_KEY').replace('SNAPENGAGE_WIDGET_ID', 'SNAPENGAGE_WIDGETS') })),
    }));
    const row = renderProjectFiles(plan(['logs']), renamed).get('README.md')!.split('\n').find((l) => l.includes('[sources.snapengage_source] api_key'));
    expect(row).toContain('`SNAPENGAGE_API_TOKEN`, `SNAPENGAGE_API_KEY` and `SNAPENGAGE_PROV_KEY`');
    expect(row).toContain('(`SNAPENGAGE_ORG_ID`, `SNAPENGAGE_WIDGETS` and `SNAPENGAGE_EMAIL`)');
    expect(row).not.toMatch(/SNAPENGAGE_PROVISIONING_KEY|SNAPENGAGE_WIDGET_ID\b|SNAPENGAGE_START_DATE/);
  });

  it('.env.example names the start command as the project\'s package manager spells it', () => {
    expect(renderProjectFiles(plan(['logs']), catalog).get('.env.example')).toMatch(/^# `npm start` reads `\.env`/m);
    for (const pm of ['pnpm', 'yarn', 'bun']) {
      expect(renderProjectFiles({ ...plan(['logs']), packageManager: pm as never }, catalog).get('.env.example')).toMatch(new RegExp(`^# \`${pm} start\` reads`, 'm'));
    }
  });

  it('names scripts with `<pm> run`, since `pnpm show`, `yarn check` and `bun test` are built-in commands of their own', () => {
    for (const pm of ['pnpm', 'yarn', 'bun'] as const) {
      const files = renderProjectFiles({ ...plan(['logs']), packageManager: pm as never }, catalog);
      // The pipeline file's header and the test's comment too: `bun test` would run bun's own runner.
      expect(files.get('src/pipeline.ts')).toContain(`\`${pm} start\` runs it; \`${pm} run test\``);
      expect(files.get('test/pipeline.test.ts')).toContain(`then run \`${pm} run test\``);
      for (const doc of [files.get('README.md')!, files.get('AGENTS.md')!]) {
        for (const script of ['show', 'check', 'test']) {
          expect(doc).toContain(`${pm} run ${script}`);
          expect(doc).not.toMatch(new RegExp(`\\b${pm} ${script}\\b`));
        }
      }
    }
  });

  it('logs needs the API token and says where to get it', () => {
    const env = renderProjectFiles(plan(['logs']), catalog).get('.env.example')!;
    expect(env).toContain('SnapEngage Admin Dashboard → My Account → API Token');
    expect(Object.keys(parseEnv(env))).toContain('SNAPENGAGE_API_TOKEN');
    expect(Object.keys(parseEnv(env))).not.toContain('SNAPENGAGE_API_KEY');
  });

  it('README queries a table the project loads, with what the project installs', () => {
    const readme = renderProjectFiles(plan(['widgets']), catalog).get('README.md')!;
    expect(readme).toContain("await ds.sql('SELECT COUNT(*) AS n FROM widgets')");
    expect(readme).toContain("import { openDataset } from 'snapengage-pipeline';");
    expect(readme).toContain('npm run show');
    expect(readme).toMatch(/Optional.*DuckDB CLI[\s\S]*duckdb snapengage\.duckdb "SELECT COUNT\(\*\) FROM snapengage_data\.widgets"/);
    expect(readme).toContain('--resources widgets');
    expect(readme).toContain('--add logs');
    expect(readme).not.toMatch(/\blogs\b.*(FROM|--resources)/);
    // Code spans show names as they are, without Markdown escapes.
    expect(renderProjectFiles(plan(['chat_poll']), catalog).get('README.md')).toContain('Resources: `logs`, `chat_poll`.');
  });

  it("README maps the steps of dlt's SnapEngage page to this project's names, for a table it loads", () => {
    const readme = renderProjectFiles(plan(['widgets']), catalog).get('README.md')!;
    const section = readme.split(/^## /m).find((part) => part.startsWith('Coming from dlt'));
    expect(section).toBeDefined();
    expect(section).toContain('| `python snapengage_pipeline.py` | `npm run start`');
    expect(section).toContain('| `dlt pipeline snapengage_pipeline show` (dashboard) | `npm run show`');
    expect(section).toContain("`ds.rows('widgets', { limit: 10 })`");
    expect(section).toContain('`SELECT * FROM snapengage_data.widgets LIMIT 10;`');
    expect(section).toContain('`.dlt/secrets.toml`');
    expect(section).toContain('`start_chat` (`POST api/v1/chat`) | not a resource');
    // The section adds no code block: the first ```ts block stays the openDataset query the e2e test runs.
    expect(section).not.toContain('```');
    const logs = renderProjectFiles({ ...plan(['logs']), packageManager: 'pnpm' as never }, catalog).get('README.md')!;
    expect(logs).toContain('| `python snapengage_pipeline.py` | `pnpm run start`');
    expect(logs).toContain('`SELECT * FROM snapengage_data.logs LIMIT 10;`');
  });

  it('README shows how to try the project against the local sandbox, with the package manager it was made for', () => {
    const readme = renderProjectFiles(plan(['widgets']), catalog).get('README.md')!;
    expect(readme).toContain('## Try it without an account');
    // Into a file of its own, sourced in a subshell, loading into a file of its own: written to .env, it replaced
    // credentials entered while scaffolding, and its rows went into the real snapengage.duckdb.
    expect(readme).toContain('npx snapengage-sandbox --cases 300 > .env.sandbox &');
    expect(readme).toContain(`(set -a; eval "$(grep '^SNAPENGAGE_' .env.sandbox)"; npx snapengage-pipeline run --config src/pipeline.ts --duckdb sandbox.duckdb)`);
    expect(readme).not.toMatch(/> \.env\b(?!\.)/);
    // Rerun after a restart, the wait must not pass on the last sandbox's lines: the `&` job truncates .env.sandbox
    // only once started (the wait came first in 1 of 20 tries, then the run read it empty and used .env). So run
    // what the start line does before its job, then the wait's test, as if the job had not opened the file yet:
    const lines = readme.split('\n');
    const start = lines.find((l) => l.includes('snapengage-sandbox --cases 300 > .env.sandbox &'))!;
    const waitTest = /^until (.+?); do sleep/.exec(lines[lines.indexOf(start) + 1]!)![1]!;
    const dir = mkdtempSync(join(tmpdir(), 'readme-stale-'));
    writeFileSync(join(dir, '.env.sandbox'), 'SNAPENGAGE_BASE_URL=http://127.0.0.1:9\nSNAPENGAGE_START_DATE=2026-01-01\n');
    const waited = spawnSync('sh', ['-c', `${start.slice(0, start.indexOf('npx '))}\n${waitTest}`], { cwd: dir, encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect({ passed: waited.status === 0, stderr: waited.stderr }).toEqual({ passed: false, stderr: '' });
    // No per-record resource: nothing about the rate limit.
    expect(readme).not.toContain('requestsPerSecond');
    const pnpm = renderProjectFiles({ ...plan(['widgets']), packageManager: 'pnpm' as never }, catalog).get('README.md')!;
    expect(pnpm).toContain('pnpm exec snapengage-sandbox --cases 300 > .env.sandbox &');
    // chat_poll makes one request per case at the default 10/s, also against the sandbox: the README says so and how to lift it.
    const poll = renderProjectFiles(plan(['chat_poll']), catalog).get('README.md')!;
    expect(poll).toContain('`chat_poll` makes one request per `logs` record.');
    expect(poll).toContain('add `rateLimit: { requestsPerSecond: 0 }` to `src/pipeline.ts` while you try');
  });

  it("README's Run step makes .env from .env.example, but keeps a .env the questions wrote", () => {
    const readme = renderProjectFiles(plan(['widgets']), catalog).get('README.md')!;
    const line = readme.split('\n').find((l) => l.includes('.env.example .env'))!;
    const dir = mkdtempSync(join(tmpdir(), 'readme-env-'));
    try {
      writeFileSync(join(dir, '.env.example'), 'SNAPENGAGE_EMAIL=\n');
      expect(spawnSync('sh', ['-c', line], { cwd: dir }).status).toBe(0);
      expect(readFileSync(join(dir, '.env'), 'utf8')).toBe('SNAPENGAGE_EMAIL=\n');
      // Credentials entered at "Enter credentials now?": `cp .env.example .env` replaced them with empty values.
      writeFileSync(join(dir, '.env'), "SNAPENGAGE_EMAIL='me@example.com'\n");
      expect(spawnSync('sh', ['-c', line], { cwd: dir }).status).toBe(0);
      expect(readFileSync(join(dir, '.env'), 'utf8')).toBe("SNAPENGAGE_EMAIL='me@example.com'\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("README's Run step gives PowerShell its own form of the .env line (there `test` is no command, so `||` ran cp)", () => {
    const readme = renderProjectFiles(plan(['widgets']), catalog).get('README.md')!;
    const run = readme.slice(readme.indexOf('## Run'), readme.indexOf('## ', readme.indexOf('## Run') + 3));
    // PowerShell 7 printed "The term 'test' is not recognized" and then ran cp, replacing the .env; 5.1 refuses `||`.
    expect(run).toContain('In PowerShell the first line is `if (-not (Test-Path .env)) { cp .env.example .env }`');
  });

  it("README's sandbox lines give the pipeline the sandbox's variables and run nothing else, whatever the package manager wrote", async () => {
    const { startSandbox } = await import('snapengage-sandbox');
    const box = await startSandbox({ cases: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'readme-sandbox-'));
    try {
      // What snapengage-sandbox prints on stdout (its CLI writes sandbox.env so), and what yarn 1 writes before it
      // when it runs a bin: sourced whole, `yarn run v1.22.22` ran yarn again and `$ …` failed.
      const envLines = Object.entries(box.env).map(([name, value]) => `${name}=${value}\n`).join('');
      const wrappers: Record<string, string> = {
        npm: '', pnpm: '', bun: '', yarn: 'yarn run v1.22.22\n$ /p/node_modules/.bin/snapengage-sandbox --cases 300\n',
      };
      // Stand-ins for each package manager's command: they log how they were called, with the sandbox URL they saw.
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      const log = join(dir, 'calls.log');
      for (const name of ['npx', 'pnpm', 'yarn', 'bunx']) {
        writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $* [$SNAPENGAGE_BASE_URL]" >> "${log}"\n`, { mode: 0o755 });
      }
      for (const pm of ['npm', 'pnpm', 'yarn', 'bun'] as const) {
        const readme = renderProjectFiles({ ...plan(['widgets']), packageManager: pm as never }, catalog).get('README.md')!;
        const line = readme.split('\n').find((l) => l.startsWith('(set -a;'))!;
        writeFileSync(join(dir, '.env.sandbox'), `${wrappers[pm]}${envLines}`);
        writeFileSync(log, '');
        const result = spawnSync('sh', ['-c', line], { cwd: dir, env: { PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
        const exec = { npm: 'npx', pnpm: 'pnpm exec', yarn: 'yarn', bun: 'bunx' }[pm];
        expect({ pm, calls: readFileSync(log, 'utf8'), stderr: result.stderr, status: result.status }).toEqual({
          pm, calls: `${exec} snapengage-pipeline run --config src/pipeline.ts --duckdb sandbox.duckdb [${box.url}]\n`, stderr: '', status: 0,
        });
      }
    } finally {
      await box.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("README's crontab line cds into the project's directory, not its package name (they differ since a name npm refuses is kept)", () => {
    const cronLine = (path: string, name: string) => {
      const readme = renderProjectFiles({ ...plan(['logs']), target: { path, name } }, catalog).get('README.md')!;
      return readme.split('\n').find((line) => line.startsWith('0 6 * * * '));
    };
    // Quoted for the shell; cron reads an unescaped % as a line break, whatever the quotes.
    expect(cronLine('/tmp/My Pipeline', 'my-pipeline')).toBe("0 6 * * * cd /path/to/'My Pipeline' && PATH=/usr/local/bin:$PATH npm start >> run.log 2>&1");
    expect(cronLine('/tmp/pct%25x', 'pct-25x')).toBe('0 6 * * * cd /path/to/pct\\%25x && PATH=/usr/local/bin:$PATH npm start >> run.log 2>&1');
  });

  it("README's schedule section starts the project's own command and names a section the pipeline's OPERATIONS.md has", () => {
    const readme = renderProjectFiles(plan(['logs']), catalog).get('README.md')!;
    const section = readme.slice(readme.indexOf('## Run on a schedule'), readme.indexOf('\n## ', readme.indexOf('## Run on a schedule') + 1));
    expect(section).toContain('cd /path/to/my-pipe && PATH=/usr/local/bin:$PATH npm start >> run.log 2>&1');
    const pkg = JSON.parse(renderProjectFiles(plan(['logs']), catalog).get('package.json')!) as { scripts: { start: string } };
    expect(section).toContain(`node_modules/.bin/${pkg.scripts.start}`);
    // The JSON outcome from the command itself: `npm start` prints its own lines on stdout before it.
    expect(section.replace(/\s+/g, ' ')).toContain(`node_modules/.bin/${pkg.scripts.start} --json`);
    const named = /"([^"]+)" in `node_modules\/snapengage-pipeline\/OPERATIONS\.md`/.exec(section)?.[1];
    const operations = readFileSync(fileURLToPath(new URL('../../pipeline/OPERATIONS.md', import.meta.url)), 'utf8');
    expect(operations.split('\n')).toContain(`## ${named}`);
    // The section on alerting, named after it ("… there").
    const alerting = /"([^"]+)" there/.exec(section)?.[1];
    expect(alerting).toBe('Watching scheduled runs');
    expect(operations.split('\n')).toContain(`## ${alerting}`);
  });

  it('says the default first day the spec gives (defaultStartDaysAgo), not a fixed one', () => {
    expect(renderProjectFiles(plan(['logs']), catalog).get('README.md')).toContain('else from 30 days ago;');
    expect(helpText(catalog)).toContain('(default: 30 days ago)');
    // The spec's loading hint changed to 90 days: the README and --help follow the regenerated catalog.
    const edited = catalog.map((c) => (c.name === 'logs' ? { ...c, defaultStartDaysAgo: 90 } : c));
    expect(renderProjectFiles(plan(['logs']), edited).get('README.md')).toContain('else from 90 days ago;');
    expect(helpText(edited)).toContain('(default: 90 days ago)');
    // Two incremental resources with different defaults: each is named.
    const two = [...edited, { ...edited.find((c) => c.name === 'logs')!, name: 'departments', defaultStartDaysAgo: 7 }];
    expect(helpText(two)).toContain('(default: 90 days ago for logs, 7 days ago for departments)');
  });

  it('writes .env only when credentials were given, quoted so they read back exactly', () => {
    const credentials = { SNAPENGAGE_API_TOKEN: `to'k"en#1 $HOME`, SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: '' };
    const files = renderProjectFiles({ ...plan(['logs']), credentials }, catalog);
    expect(parseEnv(files.get('.env')!)).toEqual({ SNAPENGAGE_API_TOKEN: `to'k"en#1 $HOME`, SNAPENGAGE_ORG_ID: 'org' });
    expect(renderProjectFiles(plan(['logs']), catalog).has('.env')).toBe(false);
  });
});

describe('target directory', () => {
  it('counts dotfiles as contents (a .env of credentials alone is not an empty directory), a fresh .git alone not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapengage-target-'));
    try {
      const target = { path: dir, name: 'p' };
      mkdirSync(join(dir, '.git'));
      expect(() => checkTargetFree(target, false)).not.toThrow();
      writeFileSync(join(dir, '.env'), 'SNAPENGAGE_API_TOKEN=kept\n');
      expect(() => checkTargetFree(target, false)).toThrow(`${dir} is not empty (.env); choose another directory or pass --overwrite`);
      expect(() => checkTargetFree(target, true)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--overwrite refuses a --packages directory that is the target or inside it, and only then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapengage-target-'));
    try {
      const target = { path: join(dir, 'p'), name: 'p' };
      for (const sub of ['p/packs', 'packs']) mkdirSync(join(dir, sub), { recursive: true });
      const kept = (packages: string, overwrite = true) => () => checkPackagesKept(target, join(dir, packages), overwrite, packages);
      expect(kept('p')).toThrow(/^--packages p is inside .*, which --overwrite empties/);
      expect(kept('p/packs')).toThrow(/^--packages p\/packs is inside /);
      expect(kept('packs')).not.toThrow();
      expect(kept('p', false)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names three of the entries of a full directory, and "…" for the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapengage-target-'));
    try {
      for (const name of ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt']) writeFileSync(join(dir, name), '');
      expect(() => checkTargetFree({ path: dir, name: 'p' }, false)).toThrow(/ is not empty \((?:[a-e]\.txt, ){3}…\); choose another directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('escaping', () => {
  it('env values round-trip through a dotenv parser or are refused', () => {
    for (const value of ['plain', "it's", 'say "hi"', `both ' and "`, 'back\\nslash', "it's back\\nslash", 'a # b', ' padded ']) {
      expect(parseEnv(`K=${formatEnvValue('K', value)}`).K).toBe(value);
    }
    expect(() => formatEnvValue('K', 'two\nlines')).toThrow(/K.*line break/);
    // parseEnv reads a NUL back, but no process environment can hold one: refused as well.
    expect(() => formatEnvValue('K', 'a\0b')).toThrow(/^the value for K contains a NUL character, which no environment variable can hold; paste the value again$/);
    expect(() => formatEnvValue('K', `' " \``)).toThrow(/set K in the environment/);
    expect(() => renderDotEnv({ 'BAD NAME': 'x' })).toThrow(/not an env var name/);
  });

  it('markdown and file names', () => {
    expect(escapeMarkdown('a_b *c* [x](y)\n# h')).toBe('a_b \\*c\\* \\[x\\](y) # h');
    expect(escapeMarkdown('my-pipeline')).toBe('my-pipeline');
    expect(escapeMarkdown('_x_ <b> `c` a|b')).toBe('\\_x\\_ \\<b\\> \\`c\\` a\\|b');
    expect(outputName('_gitignore.hbs')).toBe('.gitignore');
    expect(outputName('test/pipeline.test.ts.hbs')).toBe('test/pipeline.test.ts');
  });

  it('appendEnvExample adds only missing variables and keeps the user text', () => {
    const text = '# mine\nSNAPENGAGE_API_KEY=abc\n# SNAPENGAGE_EMAIL=\n';
    const vars = [
      { name: 'SNAPENGAGE_API_KEY', description: 'k', secret: true, required: true, usedBy: 'chat_poll' },
      { name: 'SNAPENGAGE_EMAIL', description: 'e', secret: false, required: true, usedBy: 'users' },
      { name: 'SNAPENGAGE_PROVISIONING_KEY', description: 'p\nq', secret: true, required: true, usedBy: 'users' },
    ];
    const result = appendEnvExample(text, vars, createRenderer());
    expect(result.added).toEqual(['SNAPENGAGE_PROVISIONING_KEY']);
    expect(result.text.startsWith(text)).toBe(true);
    expect(result.text).toContain('# p q (secret)\n');
  });

  it('appendEnvExample appends to a file without a final line end as to the same file with one', () => {
    const vars = [{ name: 'SNAPENGAGE_EMAIL', description: 'e', secret: false, required: true, usedBy: 'users' }];
    for (const eol of ['\n', '\r\n']) {
      const text = `# mine${eol}SNAPENGAGE_API_KEY=abc`;
      expect(appendEnvExample(text, vars, createRenderer()).text).toBe(appendEnvExample(`${text}${eol}`, vars, createRenderer()).text);
    }
  });

  it('appendEnvExample leaves a file without a final line end as it is when it has every variable', () => {
    const vars = [{ name: 'SNAPENGAGE_API_KEY', description: 'k', secret: true, required: true, usedBy: 'chat_poll' }];
    for (const text of ['# mine\nSNAPENGAGE_API_KEY=abc', '# Needed by: chat_poll\r\nSNAPENGAGE_API_KEY=abc']) {
      expect(appendEnvExample(text, vars, createRenderer())).toEqual({ text, added: [] });
    }
  });

  it('appendEnvExample into an empty file writes the block as it is, no line end added before it', () => {
    const vars = [{ name: 'SNAPENGAGE_EMAIL', description: 'e', secret: false, required: true, usedBy: 'users' }];
    const result = appendEnvExample('', vars, createRenderer());
    expect(result.added).toEqual(['SNAPENGAGE_EMAIL']);
    // The same block as after a file that ends its last line (the block's own blank line first, not two).
    expect(result.text).toBe(appendEnvExample('# mine\n', vars, createRenderer()).text.slice('# mine\n'.length));
    expect(result.text).toMatch(/^\n# e\n/);
  });

  it('appendEnvExample keeps a CRLF file (a Windows checkout) CRLF throughout', () => {
    const vars = [{ name: 'SNAPENGAGE_EMAIL', description: 'e', secret: false, required: true, usedBy: 'users' }];
    const result = appendEnvExample('# mine\r\nSNAPENGAGE_API_KEY=abc', vars, createRenderer());
    expect(result.text.startsWith('# mine\r\nSNAPENGAGE_API_KEY=abc\r\n')).toBe(true);
    expect(result.text).toContain('SNAPENGAGE_EMAIL=');
    expect(result.text.replaceAll('\r\n', '')).not.toContain('\n');
  });

  it('appendEnvExample adds the new resources to the "Needed by:" of a variable the file has, after the names there', () => {
    const text = '# k\r\n# Needed by: chat_poll, my cron job\r\nSNAPENGAGE_API_KEY=abc\r\n# e\r\n# Needed by: users\r\n# SNAPENGAGE_EMAIL=\r\n# Needed by: logs\r\n# a note\r\nSNAPENGAGE_ORG_ID=\r\n';
    const vars = [
      { name: 'SNAPENGAGE_API_KEY', description: 'k', secret: true, required: true, usedBy: 'visitor_typing, chat_poll' },
      { name: 'SNAPENGAGE_EMAIL', description: 'e', secret: false, required: true, usedBy: 'widgets' },
      { name: 'SNAPENGAGE_ORG_ID', description: 'o', secret: false, required: true, usedBy: 'widgets' },
    ];
    const result = appendEnvExample(text, vars, createRenderer());
    expect(result.added).toEqual([]);
    // Before: the text as it was. A commented-out variable counts; a line that is not right above its variable does not.
    expect(result.text).toBe(text.replace('chat_poll, my cron job', 'chat_poll, my cron job, visitor_typing').replace('Needed by: users', 'Needed by: users, widgets'));
  });
});

describe('names, paths and tarballs', () => {
  it('rejects names npm would refuse and paths outside the cwd', () => {
    for (const name of ['My Pipe', 'a"b', "it's", 'héllo', 'node_modules', 'favicon.ico', '.hidden', '_x', 'x'.repeat(215)]) {
      expect(checkPackageName(name), name).toMatch(/not a valid npm package name/);
    }
    expect(checkPackageName('http')).toMatch(/core module/);
    expect(() => resolveTarget('../escape', '/tmp/here')).toThrow(/outside the current directory/);
    expect(() => resolveTarget('/etc/x', '/tmp/here')).toThrow(/outside the current directory/);
    expect(() => resolveTarget('a/../../b', '/tmp/here')).toThrow(/outside/);
    expect(resolveTarget('sub/ok-name', '/tmp/here')).toEqual({ path: '/tmp/here/sub/ok-name', name: 'ok-name' });
    // Taken before, it broke the README's commands and crontab line in two.
    for (const odd of ['two\nlines', 'cr\rname', 'tab\tname', 'esc\u001bname', 'del\u007fname']) {
      expect(() => resolveTarget(odd, '/tmp/here'), JSON.stringify(odd)).toThrow('the project directory contains a line break or another control character');
    }
    // A name npm refuses keeps its directory; the package name is made from it, valid even where create-vite's regex
    // would let through what npm refuses (accents, `~`, a core module's name, a reserved name) or leave nothing.
    for (const [dir, name] of [['Été', 'ete'], ['a~b', 'a-b'], ['http', 'http-pipeline'], ['node_modules', 'node_modules-pipeline'], ['日本', 'my-snapengage-pipeline'], ['X'.repeat(300), 'x'.repeat(200)]] as const) {
      expect(resolveTarget(dir, '/tmp/here')).toEqual({ path: `/tmp/here/${dir}`, name, nameDerived: expect.stringContaining('is not a valid npm package name') });
      expect(checkPackageName(name), dir).toBeNull();
    }
    // A dependency's name: with "exports" in package.json, Node resolves an import of that name to the project itself
    // (self-reference), so package.json gets another; the directory keeps its name.
    for (const [dir, name] of [['snapengage-pipeline', 'my-snapengage-pipeline'], ['snapengage-client', 'my-snapengage-client'], ['tsx', 'my-tsx']] as const) {
      expect(resolveTarget(dir, '/tmp/here')).toEqual({ path: `/tmp/here/${dir}`, name, nameDerived: expect.stringContaining('the name of a package the project depends on') });
      expect(checkPackageName(name), dir).toBeNull();
    }
    // Capitals are refused first; the name made from it is not the dependency's either.
    expect(resolveTarget('Snapengage-Pipeline', '/tmp/here').name).toBe('my-snapengage-pipeline');
    expect(checkPackageName('snapengage-sandbox')).toMatch(/^"snapengage-sandbox" is the name of a package the project depends on \(.*\); use lowercase letters/);
  });

  it('refuses a directory name Windows cannot hold, on every platform: a project must be cloneable there', () => {
    // Windows opens the device for these (any case, any extension), and git there refuses to check them out.
    for (const dir of ['con', 'PRN', 'Aux', 'nul', 'nul.txt', 'NUL.tar.gz', 'com1', 'COM9', 'lpt1', 'Lpt9.d', 'com\u00b9', 'sub/aux']) {
      expect(() => resolveTarget(dir, '/tmp/here'), dir).toThrow(TargetError);
      expect(() => resolveTarget(dir, '/tmp/here'), dir).toThrow(/^the project directory ".*" is a device name on Windows \(CON, PRN, AUX, NUL, COM1 to COM9, LPT1 to LPT9, with any extension\), so the project could not be cloned or copied there; give a name like my-snapengage-pipeline$/);
    }
    // Windows drops a trailing dot or space, so the name would not be the one in the clone.
    for (const dir of ['pipe.', 'pipe ', 'pipe..', 'sub/pipe. ']) {
      expect(() => resolveTarget(dir, '/tmp/here'), JSON.stringify(dir)).toThrow(/^the project directory ".*" ends with a dot or a space, which Windows drops from a name, so/);
    }
    // `.` is the current directory, by its own name.
    expect(() => resolveTarget('.', '/tmp/nul')).toThrow('the project directory "nul" is a device name on Windows');
    // Names that only start like one, or with another number, are names.
    for (const dir of ['console', 'nullable', 'auxiliary', 'com0', 'com10', 'lpt', 'my.con', 'con-pipeline', 'a.b']) {
      expect(resolveTarget(dir, '/tmp/here').path, dir).toBe(`/tmp/here/${dir}`);
    }
  });

  it('the CLI refuses such a name like another bad one: one line, exit 2, nothing written', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'windows-names-'));
    try {
      let err = '';
      const stderr = new PassThrough();
      stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const argv = ['Aux.pipeline', '--resources', 'users', '--no-install', '--no-git'];
      const code = await main({ argv, env: {}, cwd, stdin: new PassThrough(), stdout: new PassThrough(), stderr, catalog });
      expect([code, err]).toEqual([2, expect.stringMatching(/^error the project directory "Aux\.pipeline" is a device name on Windows .*\n$/)]);
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('a ~ path is answered with a path from here only when there is one that is not the home itself', () => {
    // A home outside the current directory: `cd ~` first (a path from here would leave it, refused in turn).
    expect(() => resolveTarget('~/sub/pipe', '/tmp/here', '/home/me')).toThrow(/so `cd ~` and run this again with `sub\/pipe`/);
    // `~` and `~/.` name the home itself: no project directory to pass from here, even when the home is here or below.
    expect(() => resolveTarget('~', '/work', '/work/me')).toThrow(/so `cd ~` and run this again with a directory name;/);
    expect(() => resolveTarget('~/.', '/work/me', '/work/me')).toThrow(/so `cd ~` and run this again with `\.`;/);
  });

  it('refuses a PATH separator where the project really is, through a symlinked current directory', () => {
    const base = mkdtempSync(join(tmpdir(), 'target-real-'));
    try {
      mkdirSync(join(base, 'with:colon'));
      symlinkSync(join(base, 'with:colon'), join(base, 'link'));
      expect(() => resolveTarget('pipe', join(base, 'link'))).toThrow(`the project path ${join(base, 'with:colon', 'pipe')} has a ":"`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  const packDirs: string[] = [];
  afterAll(() => {
    for (const dir of packDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('points dependencies at the newest tarball with --packages', () => {
    const dir = mkdtempSync(join(tmpdir(), 'packs-'));
    packDirs.push(dir);
    for (const f of ['snapengage-pipeline-0.1.0.tgz', 'snapengage-pipeline-0.10.0.tgz', 'snapengage-client-0.1.0.tgz', 'snapengage-sandbox-0.2.0.tgz']) {
      writeFileSync(join(dir, f), '');
    }
    expect(findTarball(dir, 'snapengage-pipeline')).toBe(join(dir, 'snapengage-pipeline-0.10.0.tgz'));
    const specs = dependencySpecs(dir, '0.1.0');
    expect(specs.dependencies).toEqual({
      'snapengage-pipeline': `file:${join(dir, 'snapengage-pipeline-0.10.0.tgz')}`,
      'snapengage-client': `file:${join(dir, 'snapengage-client-0.1.0.tgz')}`,
    });
    expect(specs.devDependencies['snapengage-sandbox']).toBe(`file:${join(dir, 'snapengage-sandbox-0.2.0.tgz')}`);
    expect(() => dependencySpecs(join(dir, 'none'), '0.1.0')).toThrow(/npm run pack:local/);
  });

  it('a published project depends on snapengage-client itself, as its README says it is installed with the project', () => {
    // Only a transitive dependency, `import 'snapengage-client'` (start_chat, per the README) failed under pnpm.
    expect(dependencySpecs(null, '0.3.0').dependencies).toEqual({ 'snapengage-pipeline': '^0.3.0', 'snapengage-client': '^0.3.0' });
  });

  it('a project made from local tarballs names this scaffolder for --add; a published one npm create', () => {
    const dir = mkdtempSync(join(tmpdir(), 'packs-'));
    packDirs.push(dir);
    for (const f of ['snapengage-pipeline-0.1.0.tgz', 'snapengage-client-0.1.0.tgz', 'snapengage-sandbox-0.1.0.tgz']) writeFileSync(join(dir, f), '');
    // As a word of this platform's shells (forward slashes on Windows: shell-word.test.ts).
    const bin = shellWord(fileURLToPath(new URL('../bin/create-snapengage-pipeline.js', import.meta.url)));
    const local = renderProjectFiles({ ...plan(['logs']), packagesDir: dir }, catalog);
    // Before, it said `npm create snapengage-pipeline@latest`, which fetches a scaffolder npm may not have.
    expect(local.get('README.md')).toContain(`\nnode ${bin} . --add chat_availability\n`);
    expect(local.get('AGENTS.md')).toContain(`Run \`node ${bin} . --add <name>\``);
    const published = renderProjectFiles(plan(['logs']), catalog);
    expect(published.get('README.md')).toContain('\nnpm create snapengage-pipeline@latest . -- --add chat_availability\n');
    expect(published.get('AGENTS.md')).toContain('Run `npm create snapengage-pipeline@latest . -- --add <name>`');
  });
});

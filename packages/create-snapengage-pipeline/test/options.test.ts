import { describe, expect, it } from 'vitest';
import { checkStartDate, detectPackageManager, helpText, parseList, resolveOptions } from '../src/options.js';
import { loadCatalog } from '../src/catalog.js';

const catalog = loadCatalog();

describe('resolveOptions', () => {
  it('takes every answer from flags in non-TTY mode', () => {
    const r = resolveOptions(['proj', '--resources', 'logs,widgets', '--no-install', '--git', '--start-date', '2025-02-03'], {}, false, catalog);
    expect(r).toMatchObject({
      kind: 'create',
      interactive: false,
      given: { dir: 'proj', resources: ['logs', 'widgets'], install: false, git: true, startDate: '2025-02-03' },
    });
  });

  it('without a TTY names every missing flag on one line instead of waiting', () => {
    const r = resolveOptions(['proj'], {}, false, catalog);
    expect(r.kind).toBe('usage-error');
    const message = (r as { message: string }).message;
    expect(message).not.toContain('\n');
    expect(message).toContain('--resources');
    expect(message).toContain('--install or --no-install');
    expect(message).not.toContain('[dir]');
  });

  it('--yes takes defaults and never prompts, even on a TTY', () => {
    const r = resolveOptions(['--yes'], {}, true, catalog);
    expect(r).toMatchObject({ kind: 'create', interactive: false, given: {}, defaults: { dir: 'my-snapengage-pipeline', resources: ['logs'] } });
  });

  it('the default resource is the catalog\'s first top-level one, in spec order', () => {
    const byName = (n: string) => catalog.find((c) => c.name === n)!;
    const reordered = [byName('chat_poll'), byName('widgets'), byName('logs')];
    expect(resolveOptions(['--yes'], {}, false, reordered)).toMatchObject({ defaults: { resources: ['widgets'] } });
  });

  it('is interactive on a TTY unless --no-interactive', () => {
    expect(resolveOptions([], {}, true, catalog)).toMatchObject({ kind: 'create', interactive: true });
    // Said as it is: before, "stdin is not a TTY" while it was one.
    expect(resolveOptions(['--no-interactive'], {}, true, catalog)).toMatchObject({ kind: 'usage-error', message: expect.stringMatching(/^--no-interactive was given, so nothing can be asked; missing: \[dir\]/) });
  });

  it('asks nothing in CI even on a TTY (a runner\'s pseudo-terminal): names the missing flags instead of waiting', () => {
    // The refusal names what made it CI: Azure Pipelines sets TF_BUILD and not CI, so "CI is set" was untrue there.
    const cases: Array<[Record<string, string>, string]> = [[{ CI: 'true' }, 'CI is set'], [{ CI: '1' }, 'CI is set'], [{ GITHUB_ACTIONS: 'true' }, 'GITHUB_ACTIONS=true'], [{ TF_BUILD: 'True' }, 'TF_BUILD is set']];
    for (const [env, why] of cases) {
      const r = resolveOptions(['proj'], env, true, catalog);
      expect(r, JSON.stringify(env)).toMatchObject({ kind: 'usage-error', message: `this is a CI job (${why}; --interactive asks anyway), so nothing can be asked; missing: --resources <a,b>, --install or --no-install, --git or --no-git (or pass --yes for the defaults)` });
      // Every answer given as a flag: created without a question.
      expect(resolveOptions(['proj', '--resources', 'logs', '--no-install', '--no-git'], env, true, catalog)).toMatchObject({ kind: 'create', interactive: false });
      expect(resolveOptions(['proj', '--interactive'], env, true, catalog)).toMatchObject({ kind: 'create', interactive: true });
    }
    // CI=false (or 0, or empty) is not CI.
    for (const CI of ['false', '0', '', 'False', ' 0 ']) expect(resolveOptions([], { CI }, true, catalog), CI).toMatchObject({ kind: 'create', interactive: true });
    // GITHUB_ACTIONS counts as true only (the pipeline's progress display reads it the same way).
    expect(resolveOptions([], { GITHUB_ACTIONS: 'false' }, true, catalog)).toMatchObject({ kind: 'create', interactive: true });
    // --yes asks nothing, in CI too, whatever --interactive says.
    expect(resolveOptions(['proj', '--yes', '--interactive'], { CI: 'true' }, true, catalog)).toMatchObject({ kind: 'create', interactive: false });
    // Without a TTY the reason stays the TTY's, CI or not.
    expect(resolveOptions(['proj'], { CI: 'true' }, false, catalog)).toMatchObject({ message: expect.stringMatching(/^stdin is not a TTY, so/) });
  });

  it('lists unknown resources next to the valid ones', () => {
    const r = resolveOptions(['p', '--resources', 'logs,nope,"x'], {}, false, catalog);
    expect(r.kind).toBe('usage-error');
    const message = (r as { message: string }).message;
    expect(message).toContain('"nope"');
    expect(message).toContain('valid: logs, chat_availability');
  });

  it('guesses the resource a typo meant', () => {
    expect(resolveOptions(['p', '--resources', 'log,chatpoll,bogus'], {}, false, catalog)).toEqual({
      kind: 'usage-error',
      message: expect.stringMatching(/^--resources: unknown resource "log" \(did you mean "logs"\?\), "chatpoll" \(did you mean "chat_poll"\?\), "bogus"; valid: logs, /),
    });
  });

  it('rejects unknown flags, contradictions and bad dates', () => {
    expect(resolveOptions(['--frobnicate'], {}, false, catalog)).toEqual({ kind: 'usage-error', message: "Unknown option '--frobnicate'. Run with --help for the flags." });
    expect(resolveOptions(['--git', '--no-git'], {}, false, catalog)).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('--no-git') });
    expect(resolveOptions(['p', '--start-date', '2025-02-30'], {}, false, catalog)).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('--start-date') });
  });

  it('says how to fix a flag whose value was forgotten before the next flag', () => {
    // parseArgs' first line alone ("argument is ambiguous.") said neither what was wrong nor how to fix it, and the
    // appended sentence doubled its period.
    expect(resolveOptions(['p', '--start-date', '--yes'], {}, false, catalog)).toEqual({
      kind: 'usage-error',
      message: '--start-date is followed by a value that starts with "-": write it as --start-date=<value>, or give the value that was forgotten. Run with --help for the flags.',
    });
  });

  it('refuses a start date for resources none of which loads from one; a child of logs takes it', () => {
    expect(resolveOptions(['p', '--resources', 'widgets,users', '--start-date', '2025-01-01', '--no-install', '--no-git'], {}, false, catalog)).toEqual({
      kind: 'usage-error',
      message: '--start-date does nothing for widgets, users: only logs (and the resources read per record of it) load from a start date; drop the flag or add one of them',
    });
    expect(resolveOptions(['p', '--resources', 'chat_poll', '--start-date', '2025-01-01', '--no-install', '--no-git'], {}, false, catalog)).toMatchObject({ kind: 'create' });
  });

  it('refuses flags --add would silently ignore (a start date or resource list the user expects applied)', () => {
    expect(resolveOptions(['--add', 'widgets', '--start-date', '2025-01-01'], {}, false, catalog)).toEqual({
      kind: 'usage-error',
      message: '--start-date does nothing with --add: --add only adds resources; set incremental.startDate in src/pipeline.ts instead',
    });
    expect(resolveOptions(['--add', 'widgets', '--resources', 'users'], {}, false, catalog)).toMatchObject({
      kind: 'usage-error',
      message: '--resources does nothing with --add: list every resource to add in --add (e.g. --add widgets,users)',
    });
    expect(resolveOptions(['--add', 'widgets', '--overwrite'], {}, false, catalog)).toMatchObject({ kind: 'usage-error', message: expect.stringMatching(/^--overwrite does nothing with --add/) });
    // Taken and dropped without a word before: --add never touches package.json's dependencies.
    expect(resolveOptions(['--add', 'widgets', '--packages', '.packs'], {}, false, catalog)).toEqual({
      kind: 'usage-error',
      message: '--packages does nothing with --add: --add changes no dependency (package.json keeps the ones it has); drop the flag',
    });
  });

  it('routes --add to the add mode with the current directory by default', () => {
    expect(resolveOptions(['--add', 'chat_poll'], {}, false, catalog)).toEqual({ kind: 'add', dir: '.', resources: ['chat_poll'] });
  });

  it('reads help, version and the package manager', () => {
    expect(resolveOptions(['--help'], {}, false, catalog)).toEqual({ kind: 'help' });
    expect(resolveOptions(['-v'], {}, false, catalog)).toEqual({ kind: 'version' });
    // -V too, as the loader and the sandbox take it (the loader's -v is --verbose).
    expect(resolveOptions(['-V'], {}, false, catalog)).toEqual({ kind: 'version' });
    // …but not --V, which parseArgs reads as the option named V that holds -V.
    expect(resolveOptions(['--V'], {}, false, catalog)).toEqual({ kind: 'usage-error', message: "Unknown option '--V' (the version is -V or --version). Run with --help for the flags." });
    expect(helpText(catalog)).toContain('-v, -V, --version');
    expect(resolveOptions(['--yes'], { npm_config_user_agent: 'pnpm/9.1.0 npm/? node/v20.20.0 linux x64' }, false, catalog)).toMatchObject({ packageManager: 'pnpm' });
  });
});

describe('small parsers', () => {
  it('parseList trims, drops empties and duplicates', () => {
    expect(parseList(' logs, ,widgets,logs ')).toEqual(['logs', 'widgets']);
  });
  it('checkStartDate accepts real days only', () => {
    expect(checkStartDate('2024-02-29')).toBeNull();
    expect(checkStartDate('2023-02-29')).toMatch(/no such day: 2023-02 has 28 days/);
    expect(checkStartDate('yesterday')).toMatch(/YYYY-MM-DD/);
  });
  it('checkStartDate names the UTC day to use for a time, an epoch number or a day the calendar lacks', () => {
    expect(checkStartDate('2025-01-31T23:30:00-05:00')).toBe('--start-date "2025-01-31T23:30:00-05:00" is not a day YYYY-MM-DD: a day is enough, not a time: windows are whole UTC days, and that instant falls on 2025-02-01 in UTC; use 2025-02-01');
    expect(checkStartDate('2025-01-31 08:00 +0530')).toContain('falls on 2025-01-31 in UTC; use 2025-01-31');
    expect(checkStartDate('2025-01-31T08:00')).toContain('a day is enough, not a time: windows are whole UTC days; use 2025-01-31');
    expect(checkStartDate('2025-02-30')).toBe('--start-date "2025-02-30" is not a day YYYY-MM-DD: there is no such day: 2025-02 has 28 days');
    expect(checkStartDate('2025-02-30T10:00:00Z')).toContain('there is no such day: 2025-02 has 28 days');
    expect(checkStartDate('2025-13-01')).toContain('there is no such month');
    expect(checkStartDate('1735689600')).toContain('a day, not epoch seconds: that instant falls on 2025-01-01 in UTC; use 2025-01-01');
    expect(checkStartDate('1735689600000')).toContain('epoch milliseconds: that instant falls on 2025-01-01');
    // Not a day the next check refuses in turn.
    const now = new Date('2026-11-27T12:00:00Z');
    expect(checkStartDate('2999-01-01T00:00:00Z', now)).toMatch(/falls on 2999-01-01 in UTC, after today \(2026-11-27 UTC\): use the first day to load, in the past$/);
    expect(checkStartDate('1969-12-31T23:00:00Z', now)).toMatch(/falls on 1969-12-31 in UTC, before 1970-01-01: check the year$/);
  });
  it('checkStartDate refuses a day after today (UTC), which the loader would refuse on every run', () => {
    const now = new Date('2025-06-15T23:30:00Z');
    expect(checkStartDate('2025-06-15', now)).toBeNull();
    expect(checkStartDate('2025-06-16', now)).toBe('--start-date 2025-06-16 is after today (2025-06-15 UTC); use the first day to load, in the past');
    expect(resolveOptions(['p', '--start-date', '2999-01-01'], {}, false, catalog)).toMatchObject({ kind: 'usage-error', message: expect.stringContaining('is after today') });
  });
  it('detectPackageManager falls back to npm', () => {
    expect(detectPackageManager(undefined)).toBe('npm');
    expect(detectPackageManager('yarn/4.0.0 npm/? node/v20')).toBe('yarn');
    expect(detectPackageManager('pnpm/9.15.9 npm/? node/v20')).toBe('pnpm');
    expect(detectPackageManager('bun/1.1.38 npm/? node/v22.6.0 linux x64')).toBe('bun');
    expect(detectPackageManager('weird')).toBe('npm');
  });
});

describe('repeated flags', () => {
  it('refuses a flag with a value given twice instead of keeping the last one', () => {
    expect(resolveOptions(['proj', '--resources', 'logs', '--resources', 'widgets', '--no-install', '--no-git'], {}, false, catalog)).toEqual({
      kind: 'usage-error',
      message: '--resources given 2 times ("logs", "widgets"): give it once (several resources go in one comma list: --resources logs,widgets)',
    });
    expect(resolveOptions(['.', '--add', 'users', '--add=widgets'], {}, false, catalog)).toMatchObject({ kind: 'usage-error', message: expect.stringMatching(/^--add given 2 times .*--add users,widgets\)$/) });
    expect(resolveOptions(['proj', '--resources', 'logs', '--start-date', '2025-01-01', '--start-date', '2025-02-01'], {}, false, catalog)).toMatchObject({ kind: 'usage-error', message: expect.stringMatching(/^--start-date given 2 times/) });
    // A repeated switch says the same thing twice: still fine.
    expect(resolveOptions(['proj', '--resources', 'logs', '--no-git', '--no-git', '--no-install'], {}, false, catalog)).toMatchObject({ kind: 'create' });
  });
});

describe('--start-date with a mistyped year', () => {
  it('is refused before 1970-01-01, as the pipeline would refuse it', () => {
    expect(checkStartDate('0024-01-01')).toBe('--start-date 0024-01-01 is before 1970-01-01: no case is that old; check the year');
    expect(checkStartDate('1970-01-01')).toBeNull();
  });
});

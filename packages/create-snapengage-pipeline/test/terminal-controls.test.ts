// Terminal controls in what the scaffolder is given (flags, the project directory): none reaches the terminal. An ESC
// or C1 CSI sequence can clear the screen or write the clipboard; a bidi override reorders what is read after it, so
// the printed `cd` line and the README's commands would read other than they run.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTarget } from '../src/target.js';
import { ensureCliBuilt, runCli } from './helpers.js';

/** What a terminal acts on: C0 but the line break and the tab, DEL, C1, bidi marks, overrides and isolates. */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const HOSTILE = 'p\x1b[2J\u202eX\u009b1A';
const ESCAPED = 'p\\u001b[2J\\u202eX\\u009b1A';

let dir: string;
beforeAll(async () => {
  await ensureCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'create-controls-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the error line quotes a flag escaped', () => {
  // Named in plain words: the test's title, with the controls in it, would be printed to the terminal running it.
  const cases = { '--resources': ['ok', '--resources', `logs,${HOSTILE}`, '--yes'], '--start-date': ['ok', '--start-date', HOSTILE, '--yes'], 'an unknown option': ['ok', `--bad${HOSTILE}`] };
  for (const [name, args] of Object.entries(cases)) {
    it(name, () => {
      const run = runCli(args, dir);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain(ESCAPED);
      expect(run.stderr).not.toMatch(CONTROLS);
    });
  }
});

describe('a project directory with a C1 control or a bidi control is refused, as one with a C0 control was', () => {
  it('resolveTarget', () => {
    for (const odd of ['csi\u009bname', 'nel\u0085name', 'rlo\u202ename', 'rli\u2067name', 'rlm\u200fname', 'alm\u061cname']) {
      expect(() => resolveTarget(odd, '/tmp/here'), JSON.stringify(odd)).toThrow('the project directory contains a line break or another control character');
    }
    // Right-to-left letters are names like any other.
    expect(resolveTarget('שלום', '/tmp/here').path).toBe('/tmp/here/שלום');
  });

  it('resolveTarget: every code point of the refused ranges, at both ends, and the letters next to them are names', () => {
    const ranges = [[0x01, 0x1f], [0x7f, 0x9f], [0x61c, 0x61c], [0x200e, 0x200f], [0x202a, 0x202e], [0x2066, 0x2069]];
    for (const [from, to] of ranges) {
      for (let code = from!; code <= to!; code++) {
        expect(() => resolveTarget(`a${String.fromCharCode(code)}b`, '/tmp/here'), code.toString(16)).toThrow('another control character');
      }
    }
    for (const text of ['\u00a1', '\u061b', '\u2010', '\u2030']) expect(resolveTarget(`a${text}b`, '/tmp/here').path).toBe(`/tmp/here/a${text}b`);
  });

  it('the CLI creates nothing and prints no control', () => {
    const run = runCli([`a\u202eb`, '--yes', '--no-install', '--no-git'], dir);
    expect(run.status).toBe(2);
    expect(run.stdout + run.stderr).not.toMatch(CONTROLS);
    expect(existsSync(join(dir, `a\u202eb`))).toBe(false);
  });
});

// Interactive mode: the real @clack/prompts questions, driven through injected streams that claim to be a TTY.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseEnv } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../packages/create-snapengage-pipeline/src/index.js';
import { pipelineResources } from '../packages/create-snapengage-pipeline/test/helpers.js';

const DOWN = '\x1b[B';
const ENTER = '\r';
const CTRL_C = '\x03';

function fakeTerminal() {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin });
  const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 120, rows: 40 });
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  /** Waits (bounded) until the screen shows `text` after what was already consumed, then types `keys`. */
  let seen = 0;
  async function answer(text: string, ...keys: string[]) {
    for (let i = 0; i < 200 && !out.slice(seen).includes(text); i++) await new Promise((r) => setTimeout(r, 25));
    const at = out.indexOf(text, seen);
    if (at < 0) throw new Error(`prompt "${text}" never appeared; screen:\n${out.slice(-2000)}`);
    seen = at + text.length;
    for (const key of keys) {
      stdin.write(key);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return { stdin, stdout, stderr, answer, output: () => out, errors: () => err };
}

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'scaffold-tty-'));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

describe('interactive prompts', () => {
  it('asks for the directory, resources, start date and credentials, and writes them', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', 'tty-proj', ENTER);
    // logs is preselected; move to widgets (5th) and toggle it.
    await term.answer('Which resources', DOWN, DOWN, DOWN, DOWN, ' ', ENTER);
    await term.answer('First day to load', '2025-05-06', ENTER);
    await term.answer('Enter credentials now?', DOWN, ENTER);
    await term.answer('SNAPENGAGE_API_TOKEN', 'tok-en"s3cret', ENTER);
    await term.answer('SNAPENGAGE_ORG_ID', 'org-1', ENTER);
    await term.answer('SNAPENGAGE_WIDGET_ID', 'w1,w2', ENTER);
    await term.answer('SNAPENGAGE_PROVISIONING_KEY', 'prov-key', ENTER);
    await term.answer('SNAPENGAGE_EMAIL', 'me@example.com', ENTER);
    expect(await done, term.errors()).toBe(0);

    const dir = join(cwd, 'tty-proj');
    expect(pipelineResources(readFileSync(join(dir, 'src/pipeline.ts'), 'utf8'))).toEqual(['logs', 'widgets']);
    expect(readFileSync(join(dir, 'src/pipeline.ts'), 'utf8')).toContain("startDate: '2025-05-06'");
    expect(parseEnv(readFileSync(join(dir, '.env'), 'utf8'))).toEqual({
      SNAPENGAGE_API_TOKEN: 'tok-en"s3cret',
      SNAPENGAGE_ORG_ID: 'org-1',
      SNAPENGAGE_WIDGET_ID: 'w1,w2',
      SNAPENGAGE_PROVISIONING_KEY: 'prov-key',
      SNAPENGAGE_EMAIL: 'me@example.com',
    });
    expect(statSync(join(dir, '.env')).mode & 0o077).toBe(0);
    // Secrets are masked on screen.
    expect(term.output()).not.toContain('s3cret');
    expect(term.output()).not.toContain('prov-key');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });

  it('re-asks for an invalid directory name instead of failing', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['--resources', 'users', '--no-install', '--no-git', '--start-date', '2025-01-01'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', '../out', ENTER);
    // The error shows under the prompt; clear the bad answer, then give a good one.
    await term.answer('outside the current directory', ...Array(6).fill('\x7f'), 'good-name', ENTER);
    await term.answer('Enter credentials now?', ENTER);
    expect(await done).toBe(0);
    expect(readdirSync(cwd)).toEqual(['good-name']);
  });

  it('cancelling at a prompt exits 1 and leaves nothing behind', async () => {
    const term = fakeTerminal();
    const done = main({ argv: [], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', 'never-made', ENTER);
    await term.answer('Which resources', CTRL_C);
    expect(await done).toBe(1);
    expect(term.output()).toContain('nothing was written');
    expect(readdirSync(cwd)).toEqual([]);
  });
});

// The loader's copy of the scaffolder's shellWord (the loader does not depend on the scaffolder): the project path in
// the `cd <project> && …` its messages suggest, as one word of the user's shell. scheduled-runs.test.ts sees it in
// those messages on this machine's platform; the other platform's rules are only checked here.
import { describe, expect, it } from 'vitest';
import { shellWord } from '../src/shell-word.js';

describe('shellWord (loader)', () => {
  it('POSIX: bare when safe, else single quotes with a quote inside closed and reopened', () => {
    expect(shellWord('/home/me/pipelines/snap_1.x@2%', 'linux')).toBe('/home/me/pipelines/snap_1.x@2%');
    expect(shellWord('/home/me/My Pipelines', 'darwin')).toBe("'/home/me/My Pipelines'");
    expect(shellWord("/home/o'neil/$p", 'linux')).toBe("'/home/o'\\''neil/$p'");
  });

  it('Windows: forward slashes; double quotes for a space or a % (cmd expands %VAR%); single quotes where $ or ` would expand', () => {
    expect(shellWord('C:\\Users\\me\\pipelines', 'win32')).toBe('C:/Users/me/pipelines');
    expect(shellWord('C:\\Users\\Jane Doe\\pipelines', 'win32')).toBe('"C:/Users/Jane Doe/pipelines"');
    expect(shellWord('C:\\100%\\p', 'win32')).toBe('"C:/100%/p"');
    expect(shellWord('C:\\$work\\p', 'win32')).toBe("'C:/$work/p'");
    // PowerShell doubles a single quote inside single quotes.
    expect(shellWord("C:\\o'neil\\`p", 'win32')).toBe("'C:/o''neil/`p'");
  });

  it('Windows: a comma or a leading @ is quoted (PowerShell reads `a,b` as an array and `@name` as a splatted variable)', () => {
    // Unquoted, `cd C:/runs,2026` failed in PowerShell (an array is no path) and `cd @work` splatted an unset $work,
    // leaving cd with no path at all.
    expect(shellWord('C:\\runs,2026\\p', 'win32')).toBe('"C:/runs,2026/p"');
    expect(shellWord('@work', 'win32')).toBe('"@work"');
    expect(shellWord('C:\\me@work\\p', 'win32')).toBe('C:/me@work/p');
    // POSIX shells read both as plain letters.
    expect(shellWord('/srv/runs,2026/@work', 'linux')).toBe('/srv/runs,2026/@work');
  });
});

// The destination path checks as they run on Windows (node:path is path.win32 here), whose paths this machine
// cannot make: a long path (\\?\C:\…) has a "?" that DuckDB knows is no query, and writes its log beside the file.
import { describe, expect, it, vi } from 'vitest';

vi.mock('node:path', async () => {
  const { win32 } = await vi.importActual<typeof import('node:path')>('node:path');
  return { ...win32, default: win32 };
});
const { checkDestinationNames } = await import('../src/destination-settings.js');

describe('destination.path on Windows', () => {
  it('a long path (\\\\?\\C:\\…, \\\\?\\UNC\\…) is not refused for its "?": DuckDB puts its log beside such a file', () => {
    for (const path of ['\\\\?\\C:\\data\\snapengage.duckdb', '\\\\?\\UNC\\server\\share\\snapengage.duckdb']) {
      expect(() => checkDestinationNames(path, 'snapengage_data'), path).not.toThrow();
    }
  });

  it('a leading ~ is still refused', () => {
    expect(() => checkDestinationNames('~\\data\\x.duckdb', 'snapengage_data')).toThrow(/~ is expanded only by a shell/);
  });
});

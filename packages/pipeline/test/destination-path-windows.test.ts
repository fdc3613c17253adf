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
    expect(() => checkDestinationNames('~\\data\\x.duckdb', 'snapengage_data')).toThrow(/ would name "~" in .*: ~ is expanded only by a shell/);
  });
});

describe('destination.path on Windows, beside the refusal of remote storage (destination-path-remote.test.ts)', () => {
  it('a drive letter is no URL scheme: C:\\…, C:/…, \\\\?\\C:\\… and a UNC path \\\\server\\share\\… are loaded into', () => {
    for (const path of ['C:\\data\\x.duckdb', 'C:/data/x.duckdb', 'c:\\x.duckdb', 'C:x.duckdb', 'C:sqlite.duckdb', '\\\\?\\C:\\data\\x.duckdb', '\\\\server\\share\\x.duckdb', '//server/share/x.duckdb']) {
      expect(() => checkDestinationNames(path, 'snapengage_data'), path).not.toThrow();
    }
  });

  it('a URL or a MotherDuck name is still refused; a file:// URL names the Windows path to write', () => {
    expect(() => checkDestinationNames('s3://bucket/x.duckdb', 'snapengage_data')).toThrow(/is a URL \(s3:\/\/\)/);
    expect(() => checkDestinationNames('md:mydb', 'snapengage_data')).toThrow(/is a MotherDuck database/);
    expect(() => checkDestinationNames('file:///C:/data/x.duckdb', 'snapengage_data')).toThrow(/: write the local path C:\\data\\x\.duckdb$/);
    expect(() => checkDestinationNames('file://server/share/x.duckdb', 'snapengage_data')).toThrow(/: write the local path \\\\server\\share\\x\.duckdb$/);
    // DuckDB's ATTACH prefix before a Windows path: the local file to write keeps its directory.
    expect(() => checkDestinationNames('sqlite:C:\\data\\x.db', 'snapengage_data')).toThrow(/is a SQLite database .*: pass a local path, such as C:\\data\\x\.duckdb, /);
  });
});

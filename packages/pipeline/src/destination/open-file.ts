// Opens the DuckDB file of a destination, waiting while another program (or a dataset of this process) has it: for
// a run up to SNAPENGAGE_DUCKDB_LOCK_WAIT, telling it once that it waits, and failing with a message that names the
// holder and says what to close. It is apart from index.ts because the retry loop and its messages are one concern
// of their own; the destination keeps what an open means for the run (the file's existence, the session).
import { createDuckDBInstance, type DuckDBConnection, type DuckDBInstance } from '../duckdb.js';
import { AbortedError } from '../errors.js';
import { DestinationError, toDestinationError } from './errors.js';
import { holdFile } from './open-files.js';

export interface OpenedFile {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  releaseFile: () => void;
}

export interface OpenFileOptions {
  path: string;
  /** DuckDB settings (duckdbSettings). */
  settings: Record<string, string>;
  waitMs: number;
  /** A refusal says it came at the commit and that nothing of the run was loaded, not 'opening the destination'. */
  forCommit: boolean;
  signal?: AbortSignal | undefined;
  onLockWait: (message: string) => void;
  /** Run at each attempt once this process holds the file, before DuckDB opens it. */
  beforeOpen: () => Promise<void>;
}

/** Opens the file, waiting up to `waitMs`; cancelled (`signal`) while it waits: an AbortedError, not the lock's. */
export async function openDuckDBFile(o: OpenFileOptions): Promise<OpenedFile> {
  const waitMs = o.waitMs;
  const forCommit = o.forCommit;
  const deadline = Date.now() + waitMs;
  let told = false;
  // Bounded by the deadline; each round sleeps 250 ms.
  for (;;) {
    let releaseFile: (() => void) | undefined;
    let instance: DuckDBInstance | undefined;
    try {
      releaseFile = holdFile(o.path, 'write');
      await o.beforeOpen();
      instance = await createDuckDBInstance(o.path, o.settings);
      const conn = await instance.connect();
      // The loader's session reads and writes times in UTC, not the machine's zone: a format-1 file's zone-less
      // TIMESTAMP columns hold UTC, and are read and converted (migrateSystemTimes) as such. Without ICU there is no
      // zone but UTC anyway.
      await conn.run(`SET TimeZone = 'UTC'`).catch(() => undefined);
      return { instance, conn, releaseFile };
    } catch (error) {
      instance?.closeSync();
      releaseFile?.();
      const mapped = toDestinationError(error, 'opening the destination', o.path);
      if (mapped.code !== 'locked') throw mapped;
      if (o.signal?.aborted) throw new AbortedError('Run cancelled', { cause: mapped });
      if (Date.now() >= deadline) {
        if (!told && !forCommit) throw mapped;
        // A dataset of this process (open-files.ts) rather than another program: the fix is its close().
        const here = error instanceof DestinationError;
        let what = mapped.message.slice(0, mapped.message.length - mapped.hint.length - 2);
        if (told) what += `, still after ${Math.round(waitMs / 1000)} s`;
        if (forCommit) what = `${what.replace(/^opening the destination: /, 'committing: ')}; nothing of this run was loaded`;
        const hint = here
          ? forCommit ? 'close() that dataset before the run commits (or raise SNAPENGAGE_DUCKDB_LOCK_WAIT, seconds), then retry' : mapped.hint
          : 'close the program that has it open (the DuckDB CLI, a notebook, a dashboard) or raise SNAPENGAGE_DUCKDB_LOCK_WAIT (seconds), then retry';
        throw new DestinationError(what, 'locked', hint, o.path, { cause: error });
      }
      if (!told) {
        told = true;
        const seconds = Math.ceil((deadline - Date.now()) / 1000);
        const holder = /\((PID \d+)\)/.exec(mapped.message)?.[1] ?? (/in this process/.test(mapped.message) ? 'this process' : undefined);
        o.onLockWait(`DuckDB file ${o.path} is in use${holder ? ` (${holder})` : ''}; waiting up to ${seconds} s for it to be closed`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

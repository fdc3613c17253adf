// Staged rows live in NDJSON files next to the database until the resource commits, so memory stays bounded
// by one chunk per table no matter how much a load holds, and nothing reaches the dataset before COMMIT.
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Buffered text per table before it is handed to the file system. */
const CHUNK_BYTES = 1 << 16;

export class TableStagingFile {
  rows = 0;
  /** Longest line so far; read_json needs maximum_object_size at least this big. */
  maxLineLength = 0;
  private pending: string[] = [];
  private pendingLength = 0;
  private handle: Promise<FileHandle> | undefined;
  /** At most one write in flight per file: that is the backpressure. */
  private inflight: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  add(line: string): void {
    this.pending.push(line);
    this.pendingLength += line.length + 1;
    this.rows++;
    if (line.length > this.maxLineLength) this.maxLineLength = line.length;
  }

  get bufferedLength(): number {
    return this.pendingLength;
  }

  /** Starts writing the buffer once the previous write finished; resolves when this write has started. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('\n') + '\n';
    this.pending = [];
    this.pendingLength = 0;
    await this.inflight;
    this.handle ??= open(this.path, 'w');
    const handle = await this.handle;
    // writeFile on a handle writes the whole chunk at the current position (loops over partial writes).
    this.inflight = handle.writeFile(chunk, 'utf8');
  }

  async close(): Promise<void> {
    await this.flush();
    await this.inflight;
    if (this.handle) {
      const handle = await this.handle;
      this.handle = undefined;
      await handle.close();
    }
  }

  /** Closes without caring about errors (abort path). */
  async discard(): Promise<void> {
    this.pending = [];
    await this.inflight.catch(() => undefined);
    const handle = await this.handle?.catch(() => undefined);
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}

/** One writer's staging directory: a file per table. */
export class StagingArea {
  private readonly files = new Map<string, TableStagingFile>();
  private created: Promise<unknown> | undefined;

  constructor(readonly dir: string) {}

  file(table: string): TableStagingFile {
    let f = this.files.get(table);
    if (!f) {
      // File names are positional, not table names: table names may be long or contain any letter.
      f = new TableStagingFile(join(this.dir, `${this.files.size}.ndjson`));
      this.files.set(table, f);
    }
    return f;
  }

  get(table: string): TableStagingFile | undefined {
    return this.files.get(table);
  }

  get bufferedLength(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.bufferedLength;
    return n;
  }

  /** Flushes tables whose buffer is full (or all, with force). */
  async flush(force = false): Promise<void> {
    this.created ??= mkdir(this.dir, { recursive: true });
    await this.created;
    for (const f of this.files.values()) if (force || f.bufferedLength >= CHUNK_BYTES) await f.flush();
  }

  async close(): Promise<void> {
    this.created ??= mkdir(this.dir, { recursive: true });
    await this.created;
    for (const f of this.files.values()) await f.close();
  }

  async remove(): Promise<void> {
    for (const f of this.files.values()) await f.discard();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export const STAGING_FLUSH_BYTES = 4 * CHUNK_BYTES;

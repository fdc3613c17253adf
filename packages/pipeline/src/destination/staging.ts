// Staged rows live in NDJSON files next to the database until the resource commits, so memory stays bounded
// by one chunk per table no matter how much a load holds, and nothing reaches the dataset before COMMIT.
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir } from './ensure-dir.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-files.js';

/**
 * Buffered text per table before it is handed to the file system. Each write costs the main thread ~80 µs on top of
 * its bytes (handing it to libuv's pool while that pool's threads compete for the same 2 cores), so fewer, larger
 * writes save time; larger chunks also leave more memory behind in the C allocator. Measured at 200k cases, three
 * runs each: 64 KiB 14.2 s / 360–375 MiB, 256 KiB 13.0–14.1 s / 367–383 MiB, 1 MiB 12.8–13.1 s / 396–435 MiB.
 */
const CHUNK_BYTES = 1 << 18;

/**
 * Written chunks are reused instead of freed: a load writes thousands of them, and the C allocator keeps the memory
 * freed buffers leave behind (measured at 200k cases with 64 KiB chunks: the process heap held after extraction 46 → 25 MiB).
 */
const spareChunks: Buffer[] = [];
/** At most 4 MiB kept for reuse. */
const MAX_SPARE_CHUNKS = 16;

/** The memory of every chunk this module allocated: only these are reused (never a buffer from elsewhere). */
const ownChunks = new WeakSet<ArrayBufferLike>();

function takeChunk(): Buffer {
  const spare = spareChunks.pop();
  if (spare) return spare;
  const chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  ownChunks.add(chunk.buffer);
  return chunk;
}

function giveBack(chunks: readonly Buffer[]): void {
  for (const chunk of chunks) {
    // Only whole chunks (an oversized line has a buffer of its own).
    if (!ownChunks.has(chunk.buffer) || spareChunks.length >= MAX_SPARE_CHUNKS) continue;
    spareChunks.push(Buffer.from(chunk.buffer, 0, CHUNK_BYTES));
  }
}

/**
 * A JSON text with each lone-surrogate escape replaced by U+FFFD, as String.prototype.toWellFormed does: DuckDB text
 * is UTF-8, which cannot hold half a surrogate pair. Escapes are read pairwise, so an escaped backslash followed by
 * `ud83d` (the text "\\ud83d" in the source) stays as it is.
 */
export function replaceLoneSurrogateEscapes(json: string): string {
  return json.replace(/\\(u[dD][89a-fA-F][0-9a-fA-F]{2}|[^])/g, (escape: string, body: string) => (body.length === 5 ? '\\ufffd' : escape));
}

export class TableStagingFile {
  rows = 0;
  /**
   * Longest line so far in UTF-8 bytes (newline excluded); read_json needs maximum_object_size at least this big. Its
   * JSON reader holds two buffers of that size per thread, so an estimate (4 bytes per UTF-16 unit) made one 20 MB
   * string need 320 MiB and fail the load at the default memory limit.
   */
  maxLineBytes = 0;
  /**
   * Lines are encoded straight into a byte buffer as they arrive: no array of strings to join and encode again
   * at flush time (measured: that join and second pass were ~10 % of the loader's CPU at 200k cases).
   */
  private buffer: Buffer = takeChunk();
  private used = 0;
  private handle: Promise<FileHandle> | undefined;
  /** At most one write in flight per file: that is the backpressure. */
  private inflight: Promise<void> = Promise.resolve();
  /** Full buffers (or oversized lines) waiting for the next flush. */
  private ready: Buffer[] = [];
  private readyLength = 0;

  constructor(readonly path: string) {}

  add(line: string): void {
    // JSON.stringify writes a lone surrogate (an emoji cut in half by the API) as a `\udXXX` escape, which DuckDB's
    // JSON reader rejects, failing the whole load. Only such escapes are lowercase `\ud…`; the check is a fast scan.
    if (line.includes('\\ud')) line = replaceLoneSurrogateEscapes(line);
    this.rows++;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; +1 for the newline.
    const worst = line.length * 3 + 1;
    if (worst > this.buffer.length - this.used) {
      this.seal();
      if (worst > this.buffer.length) {
        // Encoded into a buffer of its exact size, the newline written after it: `${line}\n` made a flat copy of
        // the whole line first (V8 flattens the concatenation to encode it), twice the line's length in bytes
        // when it holds a letter beyond Latin-1, on top of the line and its UTF-8 bytes (BENCHMARK.md, "Extreme
        // record shapes").
        const length = Buffer.byteLength(line, 'utf8');
        const bytes = Buffer.allocUnsafeSlow(length + 1);
        bytes.write(line, 0, 'utf8');
        bytes[length] = 0x0a;
        if (length > this.maxLineBytes) this.maxLineBytes = length;
        this.ready.push(bytes);
        this.readyLength += bytes.length;
        return;
      }
    }
    const written = this.buffer.write(line, this.used, 'utf8');
    if (written > this.maxLineBytes) this.maxLineBytes = written;
    this.used += written;
    this.buffer[this.used++] = 0x0a;
  }

  /** Moves the current buffer to the ready list and starts a fresh one. */
  private seal(): void {
    if (this.used === 0) return;
    this.ready.push(this.buffer.subarray(0, this.used));
    this.readyLength += this.used;
    this.buffer = takeChunk();
    this.used = 0;
  }

  get bufferedLength(): number {
    return this.readyLength + this.used;
  }

  /** Starts writing the buffered bytes once the previous write finished; resolves when this write has started. */
  async flush(): Promise<void> {
    this.seal();
    if (this.ready.length === 0) return;
    const chunks = this.ready;
    this.ready = [];
    this.readyLength = 0;
    await this.inflight;
    this.handle ??= open(this.path, 'w', PRIVATE_FILE_MODE);
    const handle = await this.handle;
    // writev writes the buffers in order at the current position; loop over partial writes.
    const write = writeAll(handle, chunks).then(() => giveBack(chunks));
    // Awaited by the next flush, close or discard; until then a failure (a full disk) must not be an unhandled
    // rejection, which would kill the process with a stack trace instead of the one-line error.
    write.catch(() => undefined);
    this.inflight = write;
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
    this.ready = [];
    this.used = 0;
    await this.inflight.catch(() => undefined);
    const handle = await this.handle?.catch(() => undefined);
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}

async function writeAll(handle: FileHandle, chunks: Buffer[]): Promise<void> {
  let pending = chunks;
  for (let guard = 0; pending.length > 0; guard++) {
    if (guard > 1_000_000) throw new Error('staging write made no progress');
    let { bytesWritten } = await handle.writev(pending);
    const rest: Buffer[] = [];
    for (const chunk of pending) {
      if (bytesWritten >= chunk.length) bytesWritten -= chunk.length;
      else {
        rest.push(chunk.subarray(bytesWritten));
        bytesWritten = 0;
      }
    }
    pending = rest;
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
    this.created ??= ensureDir(this.dir, PRIVATE_DIR_MODE);
    await this.created;
    for (const f of this.files.values()) if (force || f.bufferedLength >= CHUNK_BYTES) await f.flush();
  }

  async close(): Promise<void> {
    this.created ??= ensureDir(this.dir, PRIVATE_DIR_MODE);
    await this.created;
    for (const f of this.files.values()) await f.close();
  }

  async remove(): Promise<void> {
    for (const f of this.files.values()) await f.discard();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export const STAGING_FLUSH_BYTES = 4 * CHUNK_BYTES;

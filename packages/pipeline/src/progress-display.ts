// Progress on stderr: on a TTY one line per resource redrawn in place (at most 10 times a second); otherwise plain
// log lines every few seconds, less often as a long run goes on, so CI logs stay readable.
import pc from 'picocolors';
import type { LoadStep } from './run-records.js';
import type { ProgressSnapshot, RequestEvent } from './run.js';
import { glyphsFor, inCi, type Glyphs } from './terminal.js';
import { fit, widthOf } from './text-width.js';
import { listItemNoun } from './cursor.js';
import { pluralNoun } from './plural-noun.js';

const TTY_INTERVAL_MS = 100;
/** Plain lines: every 5 s at first, then every tenth of the time elapsed, at most a minute apart. */
const PLAIN_INTERVAL_MS = 5000;
const PLAIN_MAX_INTERVAL_MS = 60_000;
/**
 * Snapshots come with pages only: during a stall (an answer that takes 30 s, a retry's backoff, a 429's hold) none
 * came, and the elapsed time stood still on a TTY while no plain line came at all. A clock of the display's own
 * moves the time on and, past STALL_MS without a page, says so.
 */
const TICK_MS = 1000;
const STALL_MS = 5000;

/** The latest snapshot as of now: its time moved on since it came, and how long no page has come (0: not stalled). */
class Latest {
  /** When the snapshot came. */
  private readonly at = Date.now();
  constructor(readonly snapshot: ProgressSnapshot) {}

  get elapsedMs(): number {
    return this.snapshot.phase === 'done' ? this.snapshot.elapsedMs : this.snapshot.elapsedMs + Date.now() - this.at;
  }

  /** While extracting, a snapshot comes with each page: its age is how long no page has come. */
  get stalledMs(): number {
    const age = Date.now() - this.at;
    return this.snapshot.phase === 'extracting' && age >= STALL_MS ? age : 0;
  }
}

function stallNote(latest: Latest): string {
  const ms = latest.stalledMs;
  return ms > 0 ? `no page for ${Math.floor(ms / 1000)} s (a slow answer, a retry's wait or the rate limit; --verbose says which)` : '';
}

export interface ProgressDisplay {
  update(snapshot: ProgressSnapshot): void;
  /** Prints a line above the live display (verbose request logs, warnings). */
  log(line: string): void;
  finish(): void;
}

export function createProgressDisplay(stream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env): ProgressDisplay {
  // TERM=dumb: a terminal without cursor movement (Emacs' shell, some IDE consoles and log capturers), where the
  // redraw left a trail of escape codes. A CI job in a pseudo-terminal (terminal.ts) kept every frame in its log.
  return stream.isTTY && env.TERM !== 'dumb' && !inCi(env) ? new LiveDisplay(stream, env) : new PlainDisplay(stream);
}

function formatLine(r: ProgressSnapshot['resources'][number]): string {
  const rate = r.recordsPerSecond >= 10 ? Math.round(r.recordsPerSecond).toString() : r.recordsPerSecond.toFixed(1);
  const role = r.loaded ? '' : ' (drives children, not loaded)';
  // Before the rate, which is worth less: an 80-column terminal cuts the line's end. None for a list of one.
  const items = r.items && r.items.total > 1 ? `  ${r.items.done}/${r.items.total} ${pluralNoun(listItemNoun(r.name))}` : '';
  return `${r.name.padEnd(18)} ${String(r.pages).padStart(7)} pages ${String(r.records).padStart(9)} records${items} ${rate.padStart(8)} rec/s${role}`;
}

class LiveDisplay implements ProgressDisplay {
  private lastDraw = 0;
  /** Width of each line of the frame on screen: the rows to move back over depend on the columns at the next draw. */
  private drawnWidths: number[] = [];
  private latest: Latest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;

  /**
   * Dimming as this stream and the environment allow (Node's hasColors: NO_COLOR, FORCE_COLOR, TERM). picocolors decides
   * once by stdout, so `run > load.txt` lost the dimming on the terminal, and it took FORCE_COLOR=0 as forcing colour.
   */
  private readonly colors: ReturnType<typeof pc.createColors>;
  /** ASCII under a locale that is not UTF-8 (terminal.ts): a glyph's bytes shown as several characters broke the redraw. */
  private readonly glyphs: Glyphs;

  constructor(private readonly stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv) {
    this.colors = pc.createColors(typeof stream.hasColors === 'function' && stream.hasColors(env));
    this.glyphs = glyphsFor(env);
  }

  update(snapshot: ProgressSnapshot): void {
    this.latest = new Latest(snapshot);
    this.ticker ??= tick(() => this.draw());
    const wait = this.lastDraw + TTY_INTERVAL_MS - Date.now();
    if (wait <= 0) this.draw();
    else this.timer ??= setTimeout(() => this.draw(), wait);
  }

  log(line: string): void {
    this.clear();
    this.stream.write(`${line}\n`);
    this.drawnWidths = [];
    if (this.latest) this.draw();
  }

  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.latest) this.draw();
    this.latest = undefined;
    this.drawnWidths = [];
  }

  /** Columns of the terminal now (it may have been resized since the last frame); 0 when it does not say. */
  private get columns(): number {
    return this.stream.columns > 0 ? this.stream.columns : 0;
  }

  private clear(): void {
    // A line that has become wider than the terminal (narrowed since it was drawn) takes several rows in the terminals
    // that reflow their lines on a resize (Windows Terminal, conhost, VTE, iTerm2, tmux): moving up one row per line
    // left the top of the old frame on screen.
    const columns = this.columns;
    const rows = this.drawnWidths.reduce((sum, width) => sum + (columns > 0 ? Math.max(1, Math.ceil(width / columns)) : 1), 0);
    if (rows > 0) this.stream.write(`\x1b[${rows}A\x1b[J`);
  }

  private draw(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastDraw = Date.now();
    if (!this.latest) return;
    this.clear();
    // Every line kept narrower than the terminal: a line that wrapped took two rows, the cursor went back up one per
    // line, and each redraw left a line of the previous frame behind (at 80 columns already, a parent's line being 97
    // wide). The last column stays free, where some terminals (conhost) wrap at once.
    const columns = this.columns;
    const room = columns > 0 ? columns - 1 : Infinity;
    // A frame taller than the terminal scrolls its top out of reach of the cursor-up: the resources that fit, and how
    // many more there are.
    const height = this.stream.rows > 0 ? this.stream.rows - 1 : Infinity;
    const resources = this.latest.snapshot.resources;
    const shown = resources.length + 1 <= height ? resources : resources.slice(0, Math.max(0, height - 1));
    const { marker, ellipsis } = this.glyphs;
    const lines = shown.map((r) => ({ prefix: `${marker} `, text: formatLine(r) }));
    // No page comes during the commit, so the display stands still: it says why.
    const stall = stallNote(this.latest);
    const phase = this.latest.snapshot.phase === 'committing' ? `, committing into DuckDB${ellipsis}` : stall ? `, ${stall}` : '';
    const more = shown.length < resources.length ? ` (+${resources.length - shown.length} more)` : '';
    lines.push({ prefix: '', text: `  ${(this.latest.elapsedMs / 1000).toFixed(1)} s${more}${phase}` });
    const fitted = lines.map(({ prefix, text }) => ({ prefix: fit(prefix, room, ellipsis), text: fit(text, room - widthOf(prefix), ellipsis) }));
    this.stream.write(`${fitted.map(({ prefix, text }) => (prefix ? this.colors.dim(prefix) + text : this.colors.dim(text))).join('\n')}\n`);
    this.drawnWidths = fitted.map(({ prefix, text }) => widthOf(prefix + text));
  }
}

class PlainDisplay implements ProgressDisplay {
  private lastPrint = Date.now();
  private latest: Latest | undefined;
  private printed: Latest | undefined;
  private ticker: NodeJS.Timeout | undefined;
  /** Each resource's line as last printed, so that one that has not moved is not printed again. */
  private lastLines = new Map<string, string>();
  private saidCommitting = false;
  /** Elapsed time when the commit was first said, for the note that it goes on. */
  private committingSinceMs = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(snapshot: ProgressSnapshot): void {
    // The commit brings no page, for minutes on a big load: said once, or the log seemed to hang.
    const committing = snapshot.phase === 'committing' && !this.saidCommitting;
    this.latest = new Latest(snapshot);
    this.ticker ??= tick(() => this.printIfDue(false));
    this.printIfDue(committing);
  }

  log(line: string): void {
    this.stream.write(`${line}\n`);
  }

  finish(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.latest && this.latest !== this.printed) this.print(true);
    this.latest = undefined;
  }

  private printIfDue(force: boolean): void {
    if (!this.latest) return;
    // Every 5 s was 720 prints an hour, a line per resource each: CI logs of a long chat_poll run held tens of
    // thousands. A tenth of the time elapsed, at most a minute: bounded, and still frequent at the start.
    const interval = Math.min(PLAIN_MAX_INTERVAL_MS, Math.max(PLAIN_INTERVAL_MS, this.latest.elapsedMs / 10));
    if (force || Date.now() - this.lastPrint >= interval) this.print(false);
  }

  /** The resources that moved since the last print (every one when none did, and at the end); a stall said as such. */
  private print(all: boolean): void {
    this.lastPrint = Date.now();
    if (!this.latest) return;
    this.printed = this.latest;
    const at = `${(this.latest.elapsedMs / 1000).toFixed(1)}s`;
    // The widgets-done count too: a widget is done after its last page, so a resource's last count moves with no page.
    const lines = this.latest.snapshot.resources.map((r) => ({ name: r.name, line: formatLine(r), key: `${r.pages} ${r.records} ${r.items?.done ?? ''}` }));
    const moved = lines.filter((l) => this.lastLines.get(l.name) !== l.key);
    const stall = stallNote(this.latest);
    // The clock (tick) prints during the commit too, where no page comes: a note that it goes on, not every
    // resource's unchanged line again each minute (they read as extraction still under way).
    const committing = this.latest.snapshot.phase === 'committing';
    const commitGoesOn = committing && this.saidCommitting && moved.length === 0 && !all;
    // In a stall nothing moved: its note alone, not every resource's unchanged line again.
    for (const l of all ? lines : moved.length > 0 ? moved : stall || commitGoesOn ? [] : lines) this.stream.write(`[progress ${at}] ${l.line}\n`);
    for (const l of lines) this.lastLines.set(l.name, l.key);
    if (stall) this.stream.write(`[progress ${at}] ${stall}\n`);
    if (commitGoesOn) {
      this.stream.write(`[progress ${at}] still committing into DuckDB (${Math.round((this.latest.elapsedMs - this.committingSinceMs) / 1000)} s so far)\n`);
    }
    if (!committing || this.saidCommitting) return;
    this.saidCommitting = true;
    this.committingSinceMs = this.latest.elapsedMs;
    this.stream.write(`[progress ${at}] committing into DuckDB\n`);
  }
}

/** The display's own clock; unref'd, so it never keeps the process alive. */
function tick(callback: () => void): NodeJS.Timeout {
  const timer = setInterval(callback, TICK_MS);
  timer.unref?.();
  return timer;
}

/** `--verbose` line of a commit step, e.g. `load logs: insert logs__transcripts 1,398,259 rows 1.31 s`. */
export function formatLoadStep(step: LoadStep): string {
  const table = step.table ? ` ${step.table}` : '';
  const unit = step.step === 'compare' ? 'unchanged records' : step.step === 'adopt' ? 'records taken over' : 'rows';
  const rows = step.rows !== undefined ? ` ${step.rows.toLocaleString('en-US')} ${unit}` : '';
  return `load ${step.resource}: ${step.step}${table}${rows} ${(step.durationMs / 1000).toFixed(2)} s`;
}

/**
 * One verbose request line: method, redacted URL, status or error kind, duration, retries, time queued. `arrow`: `->`
 * under a locale that is not UTF-8 (glyphsFor), where these lines go to a terminal or a log read as such.
 */
export function formatRequest(event: RequestEvent, arrow = '→'): string {
  const outcome = event.status !== undefined ? String(event.status) : (event.kind ?? 'error');
  const retries = event.retries > 0 ? ` retries=${event.retries}` : '';
  // Time before the first attempt was sent, apart: it is not the API being slow. The rate limit's hold, and also a main
  // thread busy with other pages (up to ~50 ms seen with no rate limit at all), so not said to be the rate limit's.
  const queued = event.queuedMs !== undefined && event.queuedMs >= 1 ? ` (queued ${Math.round(event.queuedMs)} ms before sending)` : '';
  return `${event.method} ${event.url} ${arrow} ${outcome} ${Math.round(event.durationMs)} ms${retries}${queued}`;
}

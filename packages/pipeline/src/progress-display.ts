// Progress on stderr: on a TTY one line per resource redrawn in place (at most 10 times a second); otherwise a plain
// log line every few seconds, so CI logs stay readable.
import pc from 'picocolors';
import type { LoadStep } from './destination/index.js';
import type { ProgressSnapshot, RequestEvent } from './run.js';

const TTY_INTERVAL_MS = 100;
const PLAIN_INTERVAL_MS = 5000;

export interface ProgressDisplay {
  update(snapshot: ProgressSnapshot): void;
  /** Prints a line above the live display (verbose request logs, warnings). */
  log(line: string): void;
  finish(): void;
}

export function createProgressDisplay(stream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env): ProgressDisplay {
  // TERM=dumb: a terminal without cursor movement (Emacs' shell, some IDE consoles and log capturers), where the
  // redraw left a trail of escape codes.
  return stream.isTTY && env.TERM !== 'dumb' ? new LiveDisplay(stream) : new PlainDisplay(stream);
}

function formatLine(r: ProgressSnapshot['resources'][number]): string {
  const rate = r.recordsPerSecond >= 10 ? Math.round(r.recordsPerSecond).toString() : r.recordsPerSecond.toFixed(1);
  const role = r.loaded ? '' : ' (drives children, not loaded)';
  return `${r.name.padEnd(18)} ${String(r.pages).padStart(7)} pages ${String(r.records).padStart(9)} records ${rate.padStart(8)} rec/s${role}`;
}

class LiveDisplay implements ProgressDisplay {
  private lastDraw = 0;
  private drawnLines = 0;
  private latest: ProgressSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(snapshot: ProgressSnapshot): void {
    this.latest = snapshot;
    const wait = this.lastDraw + TTY_INTERVAL_MS - Date.now();
    if (wait <= 0) this.draw();
    else this.timer ??= setTimeout(() => this.draw(), wait);
  }

  log(line: string): void {
    this.clear();
    this.stream.write(`${line}\n`);
    this.drawnLines = 0;
    if (this.latest) this.draw();
  }

  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.latest) this.draw();
    this.latest = undefined;
    this.drawnLines = 0;
  }

  private clear(): void {
    if (this.drawnLines > 0) this.stream.write(`\x1b[${this.drawnLines}A\x1b[J`);
  }

  private draw(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastDraw = Date.now();
    if (!this.latest) return;
    this.clear();
    const lines = this.latest.resources.map((r) => pc.dim('▸ ') + formatLine(r));
    // No page comes during the commit, so the display stands still: it says why.
    const phase = this.latest.phase === 'committing' ? ', committing into DuckDB…' : '';
    lines.push(pc.dim(`  ${(this.latest.elapsedMs / 1000).toFixed(1)} s${phase}`));
    this.stream.write(`${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
  }
}

class PlainDisplay implements ProgressDisplay {
  private lastPrint = Date.now();
  private latest: ProgressSnapshot | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  private printed: ProgressSnapshot | undefined;

  update(snapshot: ProgressSnapshot): void {
    this.latest = snapshot;
    if (Date.now() - this.lastPrint >= PLAIN_INTERVAL_MS) this.print();
  }

  log(line: string): void {
    this.stream.write(`${line}\n`);
  }

  finish(): void {
    if (this.latest && this.latest !== this.printed) this.print();
    this.latest = undefined;
  }

  private print(): void {
    this.lastPrint = Date.now();
    if (!this.latest) return;
    this.printed = this.latest;
    const at = `${(this.latest.elapsedMs / 1000).toFixed(1)}s`;
    for (const r of this.latest.resources) this.stream.write(`[progress ${at}] ${formatLine(r)}\n`);
  }
}

/** `--verbose` line of a commit step, e.g. `load logs: insert logs__transcripts 1,398,259 rows 1.31 s`. */
export function formatLoadStep(step: LoadStep): string {
  const table = step.table ? ` ${step.table}` : '';
  const unit = step.step === 'compare' ? 'unchanged records' : step.step === 'adopt' ? 'records taken over' : 'rows';
  const rows = step.rows !== undefined ? ` ${step.rows.toLocaleString('en-US')} ${unit}` : '';
  return `load ${step.resource}: ${step.step}${table}${rows} ${(step.durationMs / 1000).toFixed(2)} s`;
}

/** One verbose request line: method, redacted URL, status or error kind, duration, retries, time queued. */
export function formatRequest(event: RequestEvent): string {
  const outcome = event.status !== undefined ? String(event.status) : (event.kind ?? 'error');
  const retries = event.retries > 0 ? ` retries=${event.retries}` : '';
  // Time held by the rate limiter, apart: it is not the API being slow.
  const queued = event.queuedMs !== undefined && event.queuedMs >= 1 ? ` (queued ${Math.round(event.queuedMs)} ms by the rate limit)` : '';
  return `${event.method} ${event.url} → ${outcome} ${Math.round(event.durationMs)} ms${retries}${queued}`;
}

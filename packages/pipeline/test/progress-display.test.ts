// The progress display on a fake stream: in place on a TTY (cursor up + clear, at most 10 redraws a second), plain
// lines otherwise. Fake timers drive the clock, so nothing here depends on real time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProgressDisplay, formatLoadStep, formatRequest } from '../src/progress-display.js';
import type { ProgressSnapshot } from '../src/run.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, write: (chunk: string) => (writes.push(chunk), true) } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

function snapshot(records: number, elapsedMs: number, done = false, phase: ProgressSnapshot['phase'] = done ? 'done' : 'extracting'): ProgressSnapshot {
  return {
    loadId: '1795810118.609550',
    elapsedMs,
    done,
    phase,
    resources: [
      { name: 'logs', loaded: true, requests: records / 100, pages: records / 100, records, recordsPerSecond: records / Math.max(1, elapsedMs / 1000) },
      { name: 'chat_poll', loaded: false, requests: 0, pages: 0, records: 0, recordsPerSecond: 0 },
    ],
  };
}

const CURSOR_UP = /\x1b\[(\d+)A\x1b\[J/;

describe('progress display', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('on a TTY redraws the same lines in place, at most 10 times a second', () => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay(stream, {});
    display.update(snapshot(100, 100));
    expect(writes).toHaveLength(1);
    expect(writes[0]).not.toMatch(CURSOR_UP);
    const drawnLines = writes[0]!.split('\n').length - 1;
    expect(drawnLines).toBe(3); // one line per resource + the elapsed time
    expect(writes[0]).toMatch(/logs\s+1 pages\s+100 records/);
    expect(writes[0]).toContain('(drives children, not loaded)');

    // 1000 updates within one second → at most 10 redraws, each moving the cursor back over the previous drawing.
    for (let i = 1; i <= 1000; i++) {
      display.update(snapshot(100 + i * 100, 100 + i));
      vi.advanceTimersByTime(1);
    }
    const redraws = writes.slice(1).filter((w) => CURSOR_UP.test(w));
    expect(redraws.length).toBeGreaterThanOrEqual(9);
    expect(redraws.length).toBeLessThanOrEqual(10);
    for (const redraw of redraws) expect(CURSOR_UP.exec(redraw)?.[1]).toBe(String(drawnLines));

    // A log line goes above the live lines, which are then drawn again below it.
    const before = writes.length;
    display.log('GET http://127.0.0.1/x → 200 3 ms');
    expect(writes[before]).toMatch(CURSOR_UP);
    expect(writes[before + 1]).toBe('GET http://127.0.0.1/x → 200 3 ms\n');
    expect(writes[before + 2]).not.toMatch(CURSOR_UP);

    // The commit brings no page: the elapsed line says why the display stands still, and the final one does not.
    vi.advanceTimersByTime(200);
    display.update(snapshot(200_000, 1900, false, 'committing'));
    expect(writes.at(-1)).toMatch(/ {2}1\.9 s, committing into DuckDB…/);
    vi.advanceTimersByTime(200);
    display.update(snapshot(200_000, 2000, true));
    display.finish();
    expect(writes.at(-1)).not.toContain('committing');
    expect(writes.at(-1)).toMatch(/logs\s+2000 pages\s+200000 records/);
    const count = writes.length;
    vi.advanceTimersByTime(1000);
    expect(writes).toHaveLength(count); // no timer left behind after finish
  });

  it('without a TTY prints plain lines, no escape codes, every few seconds and once at the end', () => {
    const { stream, writes } = fakeStream(false);
    const display = createProgressDisplay(stream, {});
    for (let i = 1; i <= 100; i++) {
      display.update(snapshot(i * 100, i * 100));
      vi.advanceTimersByTime(100); // 10 s in total
    }
    display.log('warning: retrying');
    display.finish();
    expect(writes.join('')).not.toContain('\x1b');
    for (const w of writes) expect(w.endsWith('\n')).toBe(true);
    const progress = writes.filter((w) => w.startsWith('[progress '));
    // Every 5 s over 10 s (both resources first, then only logs, the one that moved), and the final state unless the
    // display's clock printed it already.
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.length).toBeLessThanOrEqual(6);
    // The time as of the print: the last snapshot was taken at 10.0 s, printed at 10.0-10.1 s.
    expect(progress.at(-1)).toMatch(/^\[progress 10\.[01]s\] (?:logs\s+100 pages\s+10000 records|chat_poll)/);
    expect(progress.some((l) => /^\[progress 10\.[01]s\] logs\s+100 pages\s+10000 records/.test(l))).toBe(true);
    expect(writes).toContain('warning: retrying\n');
  });

  it('on a TTY whose TERM is dumb (no cursor movement) prints the plain lines', () => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay(stream, { TERM: 'dumb' });
    for (let i = 1; i <= 60; i++) {
      display.update(snapshot(i * 100, i * 100));
      vi.advanceTimersByTime(100);
    }
    display.finish();
    expect(writes.join('')).not.toContain('\x1b');
    expect(writes.filter((w) => w.startsWith('[progress ')).length).toBeGreaterThanOrEqual(2);
  });

  it('moves the time on during a stall, and says no page came, on a TTY and in plain lines (every 5 s as promised)', () => {
    const tty = fakeStream(true);
    const live = createProgressDisplay(tty.stream, {});
    live.update(snapshot(100, 400));
    vi.advanceTimersByTime(3000);
    // The elapsed line moved on with no snapshot, and a stall of 3 s is no stall yet.
    expect(tty.writes.at(-1)).toMatch(/ {2}3\.4 s\n$/);
    vi.advanceTimersByTime(9000);
    expect(tty.writes.at(-1)).toMatch(/ {2}12\.4 s, no page for 12 s \(/);
    live.update(snapshot(200, 12_400));
    vi.advanceTimersByTime(100);
    expect(tty.writes.at(-1)).not.toContain('no page');
    live.finish();

    const plain = fakeStream(false);
    const lines = createProgressDisplay(plain.stream, {});
    lines.update(snapshot(100, 400));
    vi.advanceTimersByTime(20_000);
    const progress = plain.writes.filter((w) => w.startsWith('[progress '));
    // Four prints over 20 s with no page, not none until the next page: the resources once (nothing moved after), and
    // the stall line each time.
    expect(progress.filter((w) => w.includes('logs'))).toHaveLength(1);
    expect(progress.filter((w) => w.includes('no page for'))).toHaveLength(4);
    expect(progress.at(-1)).toMatch(/^\[progress 20\.4s\] no page for 20 s/);
    lines.finish();
    const count = plain.writes.length;
    vi.advanceTimersByTime(10_000);
    expect(plain.writes).toHaveLength(count);
  });
});

/**
 * A terminal screen as far as the live display uses it: text, `\n`, and "cursor up N rows, clear below" from the start
 * of a line. A line wider than `columns` takes several rows, reckoned with the columns of the moment (so changing them
 * is a resize of a terminal that reflows its lines, as Windows Terminal, VTE, iTerm2, tmux do). Rows the cursor-up does
 * not reach stay on screen: the leftovers of an earlier frame.
 */
function fakeTerminal(columns: number, rows?: number, charset: 'utf-8' | 'single-byte' = 'utf-8') {
  const screen: string[] = [];
  // A terminal whose character set is not UTF-8 (LANG=C, latin1) shows each byte as a character of its own.
  const width = (line: string) => (charset === 'utf-8' ? [...line].length : Buffer.byteLength(line));
  let partial = '';
  const stream = {
    isTTY: true,
    columns,
    rows,
    write(chunk: string) {
      for (const [token, up] of chunk.replace(/\x1b\[\d*m/g, '').matchAll(/\x1b\[(\d+)A\x1b\[J|\n|[^\x1b\n]+/g)) {
        if (token === '\n') (screen.push(partial), (partial = ''));
        else if (up === undefined) partial += token;
        else {
          expect(partial).toBe(''); // always from the start of a line
          let n = Number(up);
          while (n > 0 && screen.length > 0) {
            const last = screen.pop()!;
            const taken = Math.max(1, Math.ceil(width(last) / stream.columns));
            // Moved up into the middle of a wrapped line: its rows above the cursor stay.
            const kept = (taken - n) * stream.columns;
            if (taken > n) screen.push(charset === 'utf-8' ? [...last].slice(0, kept).join('') : Buffer.from(last).subarray(0, kept).toString());
            n -= taken;
          }
        }
      }
      return true;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream & { columns: number }, screen };
}

function manyResources(records: number, elapsedMs: number): ProgressSnapshot {
  const base = snapshot(records, elapsedMs);
  const names = ['widgets', 'widgets__agents', 'users', 'chat_availability', 'visitor_typing'];
  return { ...base, resources: [...base.resources, ...names.map((name) => ({ ...base.resources[0]!, name }))] };
}

describe('progress of a resource read once per widget', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  /** logs 120 widgets done of 300, then all done; chat_availability of one widget (no count shown for one). */
  function listed(done: number, phase: ProgressSnapshot['phase'] = 'extracting'): ProgressSnapshot {
    return {
      loadId: '1795810118.609550',
      elapsedMs: 1000 + done,
      done: phase === 'done',
      phase,
      resources: [
        { name: 'logs', loaded: true, requests: done, pages: done, records: 10 * done, recordsPerSecond: 5, items: { done, total: 300 } },
        { name: 'chat_availability', loaded: true, requests: 1, pages: 1, records: 1, recordsPerSecond: 1, items: { done: 1, total: 1 } },
      ],
    };
  }

  it('says how many widgets of the list are done, within 80 columns on a TTY and in plain lines', () => {
    const { stream, screen } = fakeTerminal(80);
    const live = createProgressDisplay(stream, {});
    live.update(listed(120));
    expect(screen[0]).toMatch(/^▸ logs\s+120 pages\s+1200 records {2}120\/300 widgets /);
    expect(screen[1]).not.toContain('widget');
    live.finish();

    const plain = fakeStream(false);
    const lines = createProgressDisplay(plain.stream);
    lines.update(listed(120));
    vi.advanceTimersByTime(5000); // the first plain line
    // The last widget finishes after its last page: the commit's line says all are done, pages unchanged.
    lines.update({ ...listed(120, 'committing'), resources: listed(120).resources.map((r) => (r.items!.total === 300 ? { ...r, items: { done: 300, total: 300 } } : r)) });
    lines.finish();
    const logs = plain.writes.filter((w) => w.includes('] logs'));
    expect(logs[0]).toContain(' 120/300 widgets ');
    expect(logs.at(-1)).toContain(' 300/300 widgets ');
  });

  it('in plain lines, prints a count that moved while its pages did not (a last widget done while others still page)', () => {
    const plain = fakeStream(false);
    const lines = createProgressDisplay(plain.stream, {});
    const at = (logsDone: number, otherPages: number): ProgressSnapshot => ({
      ...listed(299),
      resources: [
        { ...listed(299).resources[0]!, items: { done: logsDone, total: 300 } },
        { name: 'chat_availability', loaded: true, requests: otherPages, pages: otherPages, records: otherPages, recordsPerSecond: 1, items: { done: otherPages, total: 300 } },
      ],
    });
    lines.update(at(299, 10));
    vi.advanceTimersByTime(5000);
    // logs' last widget ended after its last page (no page of logs since): only the count moved.
    lines.update(at(300, 20));
    vi.advanceTimersByTime(5000);
    const logs = plain.writes.filter((w) => w.includes('] logs'));
    expect(logs.map((w) => /\d+\/300 widgets/.exec(w)?.[0])).toEqual(['299/300 widgets', '300/300 widgets']);
    lines.finish();
  });

  it('counts a list of two widgets too (only a list of one goes without)', () => {
    const { stream, screen } = fakeTerminal(80);
    const live = createProgressDisplay(stream, {});
    const two = listed(1);
    live.update({ ...two, resources: two.resources.map((r) => ({ ...r, items: { done: 1, total: r.items!.total === 300 ? 2 : 1 } })) });
    expect(screen[0]).toMatch(/^▸ logs\s+1 pages\s+10 records {2}1\/2 widgets /);
    expect(screen[1]).not.toContain('widget');
    live.finish();
  });
});

describe('progress display in a narrow or resized terminal', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  function frames(display: ReturnType<typeof createProgressDisplay>, from: number, count: number, make = snapshot) {
    for (let i = from; i < from + count; i++) {
      display.update(make(i * 1000, i * 150));
      vi.advanceTimersByTime(150);
    }
  }

  for (const columns of [40, 60, 80]) {
    it(`at ${columns} columns erases each frame whole: one frame on screen, no line wider than the terminal`, () => {
      const { stream, screen } = fakeTerminal(columns);
      const display = createProgressDisplay(stream, {});
      frames(display, 1, 20);
      display.log('GET http://127.0.0.1:41873/api/v2/logs?widgetId=56f9be69-885a-45a8-b977-a93ddddf8cd8 → 200 3 ms');
      frames(display, 21, 20);
      display.finish();
      expect(screen).toHaveLength(4); // the log line, the two resources, the elapsed time
      expect(screen[0]).toContain('GET http://127.0.0.1:41873');
      expect(screen[1]).toMatch(/^▸ logs/);
      expect(screen[2]).toMatch(/^▸ chat_poll/);
      expect(screen[3]).toMatch(/^ {2}6\.[0-2] s/); // the time as of finish(), 150 ms after the last snapshot
      for (const line of screen.slice(1)) expect([...line].length).toBeLessThan(columns);
    });
  }

  it('a terminal narrowed mid-run: the frame drawn at the old width is erased whole', () => {
    const { stream, screen } = fakeTerminal(100);
    const display = createProgressDisplay(stream, {});
    frames(display, 1, 5);
    stream.columns = 45;
    frames(display, 6, 5);
    stream.columns = 120;
    frames(display, 11, 5);
    display.finish();
    expect(screen, screen.join('\n')).toHaveLength(3);
    expect(screen[0]).toMatch(/^▸ logs\s+150 pages\s+15000 records/);
  });

  it('a terminal lower than the frame: only what fits is drawn, so the cursor-up reaches the frame top', () => {
    const { stream, screen } = fakeTerminal(80, 5);
    const display = createProgressDisplay(stream, {});
    frames(display, 1, 10, manyResources);
    display.finish();
    expect(screen.length).toBeLessThan(5);
    expect(screen.at(-1)).toMatch(/^ {2}1\.[5-7] s .*\+\d more/);
  });

  // LC_CTYPE before LANG: the character set's own variable (POSIX's order LC_ALL, LC_CTYPE, LANG).
  for (const env of [{ LANG: 'C' }, { LC_ALL: 'POSIX', LANG: 'en_US.UTF-8' }, { LC_CTYPE: 'C', LANG: 'en_US.UTF-8' }, { LANG: 'en_US.ISO-8859-1' }, { LANG: 'en_US.UTF-8', TERM: 'linux' }]) {
    it(`under ${JSON.stringify(env)} draws ASCII only, so a terminal without UTF-8 erases each frame whole at 40 columns`, () => {
      const { stream, screen } = fakeTerminal(40, undefined, 'single-byte');
      const display = createProgressDisplay(stream, env);
      frames(display, 1, 20);
      display.update(snapshot(21_000, 21 * 150, false, 'committing'));
      vi.advanceTimersByTime(150);
      display.finish();
      // Before: `▸` (3 bytes) and `…` (3 bytes) made each line 4 bytes wider than measured, so it wrapped and every
      // redraw left its top row behind.
      expect(screen, screen.join('\n')).toHaveLength(3);
      expect(screen[0]).toMatch(/^> logs\s+210 pages\s+\S*\.\.\.$/);
      expect(screen[2]).toMatch(/^ {2}3\.\d s, committing into DuckDB\.\.\.$/);
      for (const line of screen) expect(Buffer.byteLength(line)).toBeLessThan(40);
      for (const line of screen) expect(line).toMatch(/^[\x20-\x7e]*$/);
    });
  }

  it('under LANG=C stays ASCII in a terminal too narrow for the marker (2 columns): the marker is cut as the text is', () => {
    const { stream, screen } = fakeTerminal(2, undefined, 'single-byte');
    const display = createProgressDisplay(stream, { LANG: 'C' });
    frames(display, 1, 3);
    display.finish();
    expect(screen.length).toBeGreaterThan(0);
    for (const line of screen) expect(line, screen.join('\n')).toMatch(/^[\x20-\x7e]*$/);
  });

  it('in a UTF-8 locale (or none set) keeps its Unicode marker and ellipsis', () => {
    // An empty LC_ALL is unset (POSIX): the next one says.
    for (const env of [{}, { LANG: 'C.UTF-8' }, { LC_ALL: 'de_DE.utf8', LANG: 'C' }, { LC_CTYPE: 'en_US.UTF-8' }, { LC_ALL: '', LANG: 'en_US.UTF-8' }]) {
      const { stream, screen } = fakeTerminal(40);
      const display = createProgressDisplay(stream, env);
      frames(display, 1, 3);
      display.finish();
      expect(screen[0], JSON.stringify(env)).toMatch(/^▸ logs .*…$/);
    }
  });
});

describe('progress display in CI', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  const progressOn = (env: NodeJS.ProcessEnv) => {
    const { stream, writes } = fakeStream(true);
    const display = createProgressDisplay(stream, env);
    for (let i = 1; i <= 30; i++) {
      display.update(snapshot(i * 100, i * 100));
      vi.advanceTimersByTime(100);
    }
    display.finish();
    return writes.join('');
  };

  it('prints plain lines even on a TTY (a CI runner in a pseudo-terminal keeps every redraw in its log)', () => {
    for (const env of [{ CI: 'true' }, { CI: '1' }, { CI: 'woodpecker' }, { GITHUB_ACTIONS: 'true' }, { TF_BUILD: 'True' }]) {
      const out = progressOn(env);
      expect(out, JSON.stringify(env)).not.toContain('\x1b');
      expect(out.split('\n').filter((l) => l.startsWith('[progress ')).length).toBeGreaterThanOrEqual(2);
    }
  });

  it('draws live where CI is set to false or 0 (the way to ask for the live display back)', () => {
    // In any case and with spaces around it; GITHUB_ACTIONS counts only as true (what the runner sets).
    for (const env of [{ CI: 'false' }, { CI: '0' }, { CI: '' }, {}, { CI: 'False' }, { CI: ' 0 ' }, { GITHUB_ACTIONS: 'false' }]) {
      expect(progressOn(env), JSON.stringify(env)).toMatch(CURSOR_UP);
    }
  });
});

describe('plain progress lines in a long run', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('stay bounded over hours (less often as the run goes on), listing only resources that moved', () => {
    const { stream, writes } = fakeStream(false);
    const display = createProgressDisplay(stream, {});
    // A 5-hour run (chat_poll at 10 requests/s over 180,000 cases) with a progress snapshot every second;
    // logs finishes after the first minute, chat_poll goes on.
    const hours = 5;
    for (let s = 1; s <= hours * 3600; s++) {
      vi.advanceTimersByTime(1000);
      const logs = Math.min(s, 60) * 1000;
      display.update({
        loadId: '1795810118.609550',
        elapsedMs: s * 1000,
        done: false,
        phase: 'extracting',
        resources: [
          { name: 'logs', loaded: true, requests: logs / 100, pages: logs / 100, records: logs, recordsPerSecond: logs / s },
          { name: 'chat_poll', loaded: true, requests: s * 10, pages: s * 10, records: s * 10, recordsPerSecond: 10 },
        ],
      });
    }
    display.finish();
    const lines = writes.join('').split('\n').filter(Boolean);
    // Every 5 s for 5 hours was 3,600 prints of two lines each.
    expect(lines.length).toBeLessThan(400);
    // Still every 5 s at the start, where a stuck run is first looked for.
    expect(lines.filter((l) => /^\[progress (5|10|15)\.0s\] logs/.test(l))).toHaveLength(3);
    // logs, finished after a minute, is not repeated on every line after it; the final state lists both.
    expect(lines.filter((l) => / logs /.test(l)).length).toBeLessThan(20);
    expect(lines.at(-2)).toMatch(/^\[progress 18000\.0s\] logs\s+600 pages/);
    expect(lines.at(-1)).toMatch(/^\[progress 18000\.0s\] chat_poll\s+180000 pages/);
  });
});

describe('plain progress lines at the commit', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('say once, at once, that the run is committing (no page comes then), in plain ASCII', () => {
    const { stream, writes } = fakeStream(false);
    const display = createProgressDisplay(stream, {});
    display.update(snapshot(1000, 1000));
    display.update(snapshot(2000, 1200, false, 'committing'));
    display.update(snapshot(2000, 1300, false, 'committing'));
    display.finish();
    const committing = writes.filter((w) => w.includes('committing'));
    expect(committing).toEqual(['[progress 1.2s] committing into DuckDB\n']);
    expect(writes.join('')).toMatch(/^[\x20-\x7e\n]*$/);
  });
});

describe('plain progress lines during a long commit', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it("say the commit goes on, not every resource's unchanged line again each interval", () => {
    const { stream, writes } = fakeStream(false);
    const display = createProgressDisplay(stream, {});
    display.update(snapshot(1000, 600_000));
    display.update(snapshot(1000, 600_100, false, 'committing'));
    // Three minutes of commit: the display's clock prints at its interval (a tenth of the run, at most a minute).
    vi.advanceTimersByTime(180_000);
    display.finish();
    const lines = writes.join('').split('\n').filter(Boolean);
    const after = lines.slice(lines.indexOf('[progress 600.1s] committing into DuckDB') + 1);
    expect(after.filter((l) => / pages /.test(l))).toEqual([]);
    expect(after).toEqual(['[progress 660.1s] still committing into DuckDB (60 s so far)', '[progress 720.1s] still committing into DuckDB (120 s so far)', '[progress 780.1s] still committing into DuckDB (180 s so far)']);
  });
});

describe('progress display colours', () => {
  it("dims as the TTY and the environment allow (Node's hasColors), whatever stdout is", async () => {
    const tty = await import('node:tty');
    const dimmed = (env: NodeJS.ProcessEnv) => {
      const { stream } = fakeStream(true);
      const writes: string[] = [];
      Object.assign(stream, {
        write: (chunk: string) => (writes.push(chunk), true),
        hasColors: tty.WriteStream.prototype.hasColors,
        getColorDepth: tty.WriteStream.prototype.getColorDepth,
      });
      const display = createProgressDisplay(stream, env);
      display.update(snapshot(100, 100));
      display.finish();
      return writes.join('').includes('\x1b[2m');
    };
    expect(dimmed({ TERM: 'xterm-256color' })).toBe(true);
    expect(dimmed({ TERM: 'xterm-256color', NO_COLOR: '1' })).toBe(false);
    // FORCE_COLOR=0 turns colour off, as Node (and chalk) read it.
    expect(dimmed({ TERM: 'xterm-256color', FORCE_COLOR: '0' })).toBe(false);
  });
});

describe('--verbose lines', () => {
  it('a request line names its retries and a wait before sending of 1 ms or more, and nothing of either otherwise', () => {
    const base = { method: 'GET', operation: 'GET /api/v2/{orgId}/logs', url: 'https://x/api/v2/o/logs', status: 200, durationMs: 12.4, retries: 0 };
    expect(formatRequest(base)).toBe('GET https://x/api/v2/o/logs → 200 12 ms');
    expect(formatRequest({ ...base, retries: 2, queuedMs: 0.4 })).toBe('GET https://x/api/v2/o/logs → 200 12 ms retries=2');
    expect(formatRequest({ ...base, status: undefined, kind: 'timeout', queuedMs: 250.6 })).toBe('GET https://x/api/v2/o/logs → timeout 12 ms (queued 251 ms before sending)');
    // The bound itself: 1 ms is said (mutation D1: '> 1', survived).
    expect(formatRequest({ ...base, queuedMs: 1 })).toBe('GET https://x/api/v2/o/logs → 200 12 ms (queued 1 ms before sending)');
    // Under a locale that is not UTF-8 (the CLI passes glyphsFor(process.env).arrow).
    expect(formatRequest(base, '->')).toBe('GET https://x/api/v2/o/logs -> 200 12 ms');
  });

  it('a commit step line counts rows, unchanged records or records taken over, as the step does', () => {
    expect(formatLoadStep({ resource: 'logs', step: 'insert', table: 'logs__transcripts', rows: 1_398_259, durationMs: 1310 })).toBe('load logs: insert logs__transcripts 1,398,259 rows 1.31 s');
    expect(formatLoadStep({ resource: 'logs', step: 'compare', table: 'logs', rows: 5, durationMs: 20 })).toBe('load logs: compare logs 5 unchanged records 0.02 s');
    expect(formatLoadStep({ resource: 'logs', step: 'adopt', table: 'logs', rows: 1, durationMs: 0 })).toBe('load logs: adopt logs 1 records taken over 0.00 s');
    expect(formatLoadStep({ resource: 'logs', step: 'commit', durationMs: 10 })).toBe('load logs: commit 0.01 s');
  });
});

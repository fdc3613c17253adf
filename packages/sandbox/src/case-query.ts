import { compareDates, isKnownTimeZone, nextDay, parseDateParam, startOfDayIn } from './dates.js';
import type { SandboxState } from './state.js';
import type { CaseQuery, SortKey } from './store.js';

// Reads the Logs API query (widgetId, timezone, start, end, next) into a CaseQuery. Shared by the Logs API
// and the truth endpoint, so "the same filter" means the same thing in both.

export type ParsedCaseQuery =
  | { ok: true; query: CaseQuery; widgetCount: number; singleWidgetRequested: boolean }
  | { ok: false; status: 400; message: string }
  | { ok: false; status: 404 };

const DEFAULT_TIME_ZONE = 'Etc/UTC';
const MAX_CURSOR_LENGTH = 1000;

/** The keyset cursor: creation time, tiebreak and id of the last case of a page, base64url-encoded. */
export function encodeCursor(key: SortKey): string {
  return Buffer.from(`${key.t}~${key.n ?? 0}~${key.id}`, 'utf8').toString('base64url');
}

function decodeCursor(text: string): SortKey | undefined {
  if (text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  const match = /^(-?\d+)~(\d+)~(.+)$/s.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match) return undefined;
  const t = Number(match[1]);
  const n = Number(match[2]);
  if (!Number.isSafeInteger(t) || !Number.isSafeInteger(n)) return undefined;
  return { t, id: match[3] as string, n };
}

/**
 * Parses the query. `requireDates` is true for the Logs API (start and end are required there) and false
 * for the truth endpoint, where a missing bound means "unbounded".
 */
export function parseCaseQuery(params: URLSearchParams, state: SandboxState, requireDates: boolean): ParsedCaseQuery {
  const widgets = state.fixtures.widgets;
  const requested = params
    .getAll('widgetId')
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
  const widgetIndexes: number[] = [];
  for (const id of requested) {
    const widget = widgets.find((w) => w.uuid === id);
    if (!widget) return { ok: false, status: 404 };
    if (!widgetIndexes.includes(widget.index)) widgetIndexes.push(widget.index);
  }
  if (widgetIndexes.length === 0) widgetIndexes.push(...widgets.map((w) => w.index));

  const timeZone = params.get('timezone') ?? DEFAULT_TIME_ZONE;
  if (!isKnownTimeZone(timeZone)) return { ok: false, status: 400, message: `timezone "${timeZone}" is not a known IANA time zone (example: Europe/Paris)` };

  const startText = params.get('start');
  const endText = params.get('end');
  if (requireDates && (startText === null || startText === '')) return { ok: false, status: 400, message: 'start is required (YYYY-MM-DD)' };
  if (requireDates && (endText === null || endText === '')) return { ok: false, status: 400, message: 'end is required (YYYY-MM-DD)' };
  const start = startText ? parseDateParam(startText) : undefined;
  const end = endText ? parseDateParam(endText) : undefined;
  if (startText && !start) return { ok: false, status: 400, message: `start "${startText}" is not a date (YYYY-MM-DD)` };
  if (endText && !end) return { ok: false, status: 400, message: `end "${endText}" is not a date (YYYY-MM-DD)` };
  if (start && end && compareDates(start, end) > 0) return { ok: false, status: 400, message: `start ${startText} is after end ${endText}` };

  const nextText = params.get('next');
  let after: SortKey | undefined;
  if (nextText !== null && nextText !== '') {
    after = decodeCursor(nextText);
    if (!after) return { ok: false, status: 400, message: 'next is not a cursor of this server (take it from linkToNextSetOfResults)' };
  }

  return {
    ok: true,
    widgetCount: widgetIndexes.length,
    singleWidgetRequested: requested.length === 1,
    query: {
      widgetIndexes,
      fromMs: start ? startOfDayIn(start, timeZone) : Number.NEGATIVE_INFINITY,
      // `end` is inclusive by default: the range stops at the start of the following day (endDay 'exclusive': at
      // the start of that day, the other reading of the docs).
      toMs: end ? startOfDayIn(state.options.endDay === 'exclusive' ? end : nextDay(end), timeZone) : Number.POSITIVE_INFINITY,
      after,
    },
  };
}

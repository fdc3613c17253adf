// Calendar dates in IANA time zones, with Intl only (no date library): the Logs API reads `start`/`end` as
// whole days in `timezone`, so we need "midnight of day D in zone Z" as an epoch instant.

export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The cached formatter of a zone, or undefined when the zone is unknown to Intl. */
function formatterFor(timeZone: string): Intl.DateTimeFormat | undefined {
  const cached = formatters.get(timeZone);
  if (cached) return cached;
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return undefined;
  }
  // Only valid zones are cached, so the map is bounded by the number of IANA zones.
  formatters.set(timeZone, formatter);
  return formatter;
}

/** IANA zone names only ("Europe/Paris", "Etc/UTC", "UTC"); offsets like "+02:00" are refused. */
export function isKnownTimeZone(timeZone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(timeZone)) return false;
  return formatterFor(timeZone) !== undefined;
}

/** Offset of the zone from UTC at instant t, in milliseconds (local = utc + offset). */
function offsetAt(formatter: Intl.DateTimeFormat, t: number): number {
  const parts: Record<string, number> = {};
  for (const part of formatter.formatToParts(new Date(t))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const local = Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
  return local - Math.floor(t / 1000) * 1000;
}

const HOUR_MS = 3_600_000;

/**
 * Epoch ms of the first instant of `date` in `timeZone` (the zone must be known), as java.time's
 * `LocalDate.atStartOfDay(zone)`: local midnight; the earlier one when midnight occurs twice (clocks set back
 * at 00:00); the end of the gap when midnight does not exist (America/Santiago, America/Havana, America/Asuncion
 * start summer time at 00:00, so their day starts at 01:00; Pacific/Apia skipped 2011-12-30 altogether).
 */
export function startOfDayIn(date: CalendarDate, timeZone: string): number {
  // ~20 formatToParts calls (0.09 ms), twice per Logs API page: a paging client asks for the same days every time.
  const key = `${timeZone} ${date.year}-${date.month}-${date.day}`;
  const cached = dayStarts.get(key);
  if (cached !== undefined) return cached;
  const start = computeStartOfDay(date, timeZone);
  // Bounded: a client walking day by day through years of windows must not grow it without end.
  if (dayStarts.size >= DAY_STARTS_MAX) dayStarts.clear();
  dayStarts.set(key, start);
  return start;
}

const DAY_STARTS_MAX = 4096;
const dayStarts = new Map<string, number>();

function computeStartOfDay(date: CalendarDate, timeZone: string): number {
  const formatter = formatterFor(timeZone);
  if (!formatter) throw new Error(`unknown time zone ${timeZone}`);
  const asUtc = Date.UTC(date.year, date.month - 1, date.day);
  // Every offset in force within two days of the date: local midnight is asUtc - offset for one of them.
  const offsets = new Set<number>();
  for (let h = -48; h <= 48; h += 6) offsets.add(offsetAt(formatter, asUtc + h * HOUR_MS));
  let best: number | undefined;
  for (const offset of offsets) {
    const t = asUtc - offset;
    if (offsetAt(formatter, t) === offset && (best === undefined || t < best)) best = t;
  }
  if (best !== undefined) return best;
  // Midnight falls in a gap: the day starts at the transition, the first instant whose local time is at or after
  // the day's midnight. Offsets lie within ±26 h, so the answer lies within two days of asUtc.
  let low = asUtc - 48 * HOUR_MS;
  let high = asUtc + 48 * HOUR_MS;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (middle + offsetAt(formatter, middle) >= asUtc) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** The calendar day after `date`. */
export function nextDay(date: CalendarDate): CalendarDate {
  const t = new Date(Date.UTC(date.year, date.month - 1, date.day + 1));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

export function compareDates(a: CalendarDate, b: CalendarDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/**
 * Reads `YYYY-MM-DD`, or a full ISO 8601 datetime whose date part is used as written (tolerant reading).
 * Returns undefined for anything else, including impossible dates such as 2024-02-30.
 */
export function parseDateParam(text: string): CalendarDate | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](.+))?$/.exec(text.trim());
  if (!match) return undefined;
  const [, y, m, d, time] = match;
  const date = { year: Number(y), month: Number(m), day: Number(d) };
  const check = new Date(Date.UTC(date.year, date.month - 1, date.day));
  if (check.getUTCFullYear() !== date.year || check.getUTCMonth() + 1 !== date.month || check.getUTCDate() !== date.day) {
    return undefined;
  }
  if (time !== undefined && !/^\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/.test(time)) return undefined;
  return date;
}

/** `YYYY-MM-DD` of an instant in UTC. */
export function utcDay(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

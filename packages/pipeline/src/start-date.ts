// What to tell a user whose start date (SNAPENGAGE_START_DATE or incremental.startDate) is not a day YYYY-MM-DD.
// Windows are whole UTC days (the Logs API is asked with timezone Etc/UTC), so a time or an epoch number is refused
// rather than cut to a day silently: the day it falls on depends on the zone, which the user may not have meant.
// The message names the UTC day it falls on, so the fix is a copy away.
import { isoPartsInstant } from './iso-time.js';

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})?$/i;
// Quotes around the whole value, straight or typographic (« » too).
const QUOTED = /^["'\u201c\u201d\u2018\u2019\u00ab\u00bb]([^"'\u201c\u201d\u2018\u2019\u00ab\u00bb]*)["'\u201c\u201d\u2018\u2019\u00ab\u00bb]$/;
// A day written year first in another form: unpadded (`2025-2-3`), with slashes or dots (`2025/02/03`), or ISO 8601's
// basic form (`20250203`). Year first leaves one reading, so the hint names the day; `03/02/2025` has two and is not read.
const OTHER_DAY = /^(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))$/;

/** The UTC day of an instant, or undefined when it is not a valid one. */
function utcDay(ms: number): string | undefined {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().slice(0, 10) : undefined;
}

/**
 * Why `value` is not a start date, and what to use instead (appended to "must be a date YYYY-MM-DD, got …"). With
 * `bounds`, a day the caller would refuse in turn (after today, before the earliest) is not offered as the fix.
 */
export function startDateHint(value: unknown, bounds?: { today: string; earliest: string }): string {
  const { hint, offers } = startDateHintText(value);
  if (!bounds || offers === undefined) return hint;
  const [lead, day] = offers;
  if (day > bounds.today) return `${lead}, after today (${bounds.today} UTC): use the first day to load, in the past`;
  if (day < bounds.earliest) return `${lead}, before ${bounds.earliest}: no case is that old; check the year`;
  return hint;
}

/** The hint, and when it offers a day: that day, and what to say of the value instead if the day would be refused. */
function startDateHintText(value: unknown): { hint: string; offers?: [lead: string, day: string] } {
  if (value instanceof Date) {
    const day = utcDay(value.getTime());
    if (!day) return { hint: 'an invalid Date' };
    const hint = `a Date object, not a day: write the day as text, e.g. '${day}' (the UTC day of that instant; windows are whole UTC days)`;
    return { hint, offers: [`a Date object, not a day: that instant falls on ${day} in UTC`, day] };
  }
  const text = String(value).trim();
  // Quotes kept in the value: docker compose's list form (`- SNAPENGAGE_START_DATE="2025-01-31"`) passes them on, and
  // a day copied from a document may come in typographic ones. Read what they hold.
  const quoted = QUOTED.exec(text);
  if (quoted) {
    const inner = quoted[1]!.trim();
    if (DAY.test(inner) && !missingDay(inner)) return { hint: `without the quotes around it: ${inner}`, offers: [`quotes around ${inner}`, inner] };
    return startDateHintText(inner);
  }
  const dateTime = DATE_TIME.exec(text);
  if (dateTime) {
    const [, date, time, zone] = dateTime;
    // The date part first: Date.parse rolls 2025-02-30 over to March, and naming that day (or 2025-02-30 itself) as
    // the one to use would send the user from one refusal to another.
    const wrongDay = missingDay(date!);
    if (wrongDay) return { hint: wrongDay };
    const lead = 'a day is enough, not a time: windows are whole UTC days';
    if (zone === undefined) return used(lead, date!);
    const day = utcDay(isoPartsInstant(date!, time!, zone));
    if (day) return used(`${lead}, and that instant falls on ${day} in UTC`, day);
  }
  if (/^\d{10}$|^\d{13}$/.test(text)) {
    const ms = text.length === 10 ? Number(text) * 1000 : Number(text);
    const day = utcDay(ms);
    if (day) return used(`a day, not epoch ${text.length === 10 ? 'seconds' : 'milliseconds'}: that instant falls on ${day} in UTC`, day);
  }
  if (DAY.test(text)) {
    const wrongDay = missingDay(text);
    return wrongDay ? { hint: wrongDay } : { hint: `without the spaces around it: ${text}`, offers: [`spaces around ${text}`, text] };
  }
  const other = OTHER_DAY.exec(text);
  if (other) {
    const [, year, , month, day] = other;
    const written = `${year}-${(month ?? other[5]!).padStart(2, '0')}-${(day ?? other[6]!).padStart(2, '0')}`;
    const wrongDay = missingDay(written);
    return wrongDay ? { hint: wrongDay } : used(`the day ${written} in another form`, written);
  }
  return { hint: 'use the first day to load, e.g. 2025-01-31 (a whole UTC day)' };
}

/** "…; use <day>": the hint that names the day to write. */
function used(lead: string, day: string): { hint: string; offers: [string, string] } {
  return { hint: `${lead}; use ${day}`, offers: [lead, day] };
}

/** What is wrong with a YYYY-MM-DD the calendar lacks (a month past 12, a day past the month's end), or undefined. */
function missingDay(date: string): string | undefined {
  const [, year, month, day] = DAY.exec(date)!;
  if (Number(month) < 1 || Number(month) > 12) return 'there is no such month';
  const days = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  if (Number(day) < 1 || Number(day) > days) return `there is no such day: ${year}-${month} has ${days} days`;
  return undefined;
}

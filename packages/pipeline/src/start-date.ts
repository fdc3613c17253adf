// What to tell a user whose start date (SNAPENGAGE_START_DATE or incremental.startDate) is not a day YYYY-MM-DD.
// Windows are whole UTC days (the Logs API is asked with timezone Etc/UTC), so a time or an epoch number is refused
// rather than cut to a day silently: the day it falls on depends on the zone, which the user may not have meant.
// The message names the UTC day it falls on, so the fix is a copy away.

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** The UTC day of an instant, or undefined when it is not a valid one. */
function utcDay(ms: number): string | undefined {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().slice(0, 10) : undefined;
}

/** Why `value` is not a start date, and what to use instead (appended to "must be a date YYYY-MM-DD, got …"). */
export function startDateHint(value: unknown): string {
  if (value instanceof Date) {
    const day = utcDay(value.getTime());
    return day ? `a Date object, not a day: write the day as text, e.g. '${day}' (the UTC day of that instant; windows are whole UTC days)` : 'an invalid Date';
  }
  const text = String(value).trim();
  const dateTime = DATE_TIME.exec(text);
  if (dateTime) {
    const [, date, time, zone] = dateTime;
    if (zone === undefined) return `a day is enough, not a time: windows are whole UTC days; use ${date}`;
    const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    const day = utcDay(Date.parse(`${date}T${time}${offset}`));
    if (day) return `a day is enough, not a time: windows are whole UTC days, and that instant falls on ${day} in UTC; use ${day}`;
  }
  if (/^\d{10}$|^\d{13}$/.test(text)) {
    const ms = text.length === 10 ? Number(text) * 1000 : Number(text);
    const day = utcDay(ms);
    if (day) return `a day, not epoch ${text.length === 10 ? 'seconds' : 'milliseconds'}: that instant falls on ${day} in UTC; use ${day}`;
  }
  const day = DAY.exec(text);
  if (day) {
    const [, year, month] = day;
    const days = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
    if (Number(month) >= 1 && Number(month) <= 12 && Number(day[3]) >= 1 && Number(day[3]) <= days) return `without the spaces around it: ${text}`;
    if (Number(month) >= 1 && Number(month) <= 12) return `there is no such day: ${year}-${month} has ${days} days`;
    return 'there is no such month';
  }
  return 'use the first day to load, e.g. 2025-01-31 (a whole UTC day)';
}

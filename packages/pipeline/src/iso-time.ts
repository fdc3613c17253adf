// Reading an ISO 8601 date-time the way both the cursor (cursor.ts) and the start date's hint (start-date.ts) do.

/** Epoch ms of an ISO 8601 date and time of day with an optional zone: UTC when it names none, `+0530` as `+05:30`. */
export function isoPartsInstant(date: string, time: string, zone: string | undefined): number {
  const offset = zone === undefined || zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return Date.parse(`${date}T${time}${offset}`);
}

import { parseFaultSpec, type FaultSpec } from './faults.js';

/** Options of `startSandbox()`; every one has a default. */
export interface SandboxOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Seed of all generated data, credentials and faults (default 42). */
  seed?: number;
  /** Number of generated cases over all widgets, 0 to 100,000,000 (default 5000; computed on demand, held nowhere). */
  cases?: number;
  /** Number of widgets, 1 to 5000 (default 3). */
  widgets?: number;
  /** Days of data, ending today in UTC, 1 to 3650 (default 90). */
  days?: number;
  /** Fault spec such as `429=0.1,500=0.05,reset=0.02,truncate=0.02,slow=0.01,rps=20` (default none). */
  faults?: string;
  /**
   * The instant the generated timeline ends at (default: when the sandbox starts). Pass a fixed value to
   * get the same timestamps on every run; ids and case bodies depend on the seed only. Between 1970-01-01 and
   * 9999-12-31 (UTC), so every day of the data is a YYYY-MM-DD the Logs API can be asked for.
   */
  now?: number | Date;
  /**
   * What the last page of a Logs API sequence says about a next page, where the docs are silent (default
   * `absent`): `absent` leaves `linkToNextSetOfResults` out, `empty` sends `""`, `null` sends null.
   */
  lastPageLink?: LastPageLink;
  /**
   * A full page (100 cases) always links a next page, even when no case follows: the sequence then ends with a
   * page of no cases (default false, a link only when more cases follow).
   */
  trailingEmptyPage?: boolean;
  /**
   * Wire type of the Visitor Chat API's booleans, documented Boolean but strings in the doc's availability
   * example (default `doc`): `doc` sends availability flags as "true"/"false" and agentTyping/typing as JSON
   * booleans; `string` sends all of them as strings; `boolean` sends all of them as JSON booleans.
   */
  chatBooleans?: ChatBooleans;
  /**
   * Cases take the other readings of what the docs leave unknown (default false): `created_at_milliseconds` and
   * transcript `date_milliseconds` as the 0-999 part of the second, extra `requester_details` keys (`age`, one no
   * source lists), an unlisted top-level `widget_id`, `translations` as an array, object or null, and numeric or
   * boolean `javascript_variables` values. Seeded like the rest; without it the data is unchanged.
   */
  quirks?: boolean;
  /**
   * How the Logs API reads `end`, which the docs leave unsaid ("the ISO8601 date to stop returning logs from"):
   * `inclusive` (default, what the reference infers) returns that day's cases too; `exclusive` stops at its first
   * instant, so `start` = `end` is an empty range (no cases, no error).
   */
  endDay?: EndDay;
}

const END_DAYS = ['inclusive', 'exclusive'] as const;
export type EndDay = (typeof END_DAYS)[number];

const CHAT_BOOLEANS = ['doc', 'string', 'boolean'] as const;
export type ChatBooleans = (typeof CHAT_BOOLEANS)[number];

const LAST_PAGE_LINKS = ['absent', 'empty', 'null'] as const;
export type LastPageLink = (typeof LAST_PAGE_LINKS)[number];

/** How Logs API pagination ends; settable at start-up and through the admin API. */
export interface PagingEnd {
  lastPageLink: LastPageLink;
  trailingEmptyPage: boolean;
}

/** Checks a paging setting (start-up option or admin body); throws SandboxOptionError. */
export function resolvePagingEnd(given: { lastPageLink?: unknown; trailingEmptyPage?: unknown }, base: PagingEnd): PagingEnd {
  // Only a key left out keeps its value: `{"lastPageLink": null}` reads as "end with null", which is the string "null",
  // and `??` kept the previous form with a 200, so the test went on against the form it meant to leave.
  const lastPageLink = given.lastPageLink === undefined ? base.lastPageLink : given.lastPageLink;
  if (!(LAST_PAGE_LINKS as readonly unknown[]).includes(lastPageLink)) {
    const hint = lastPageLink === null ? ' (for a null link give the string "null")' : '';
    throw new SandboxOptionError(`lastPageLink must be one of ${LAST_PAGE_LINKS.join(', ')}, got ${JSON.stringify(lastPageLink)}${hint}`, 'lastPageLink');
  }
  const trailingEmptyPage = given.trailingEmptyPage === undefined ? base.trailingEmptyPage : given.trailingEmptyPage;
  if (typeof trailingEmptyPage !== 'boolean') throw new SandboxOptionError(`trailingEmptyPage must be true or false, got ${JSON.stringify(trailingEmptyPage)}`, 'trailingEmptyPage');
  return { lastPageLink: lastPageLink as LastPageLink, trailingEmptyPage };
}

export interface ResolvedOptions {
  port: number;
  seed: number;
  cases: number;
  widgets: number;
  days: number;
  faults: FaultSpec;
  faultText: string;
  nowMs: number;
  paging: PagingEnd;
  chatBooleans: ChatBooleans;
  quirks: boolean;
  endDay: EndDay;
}

const LAST_NOW_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const LIMITS = {
  maxCases: 100_000_000,
  // Organisations with hundreds or thousands of widgets exist (the loader's widget-scale test uses 40, its
  // measurements 300); case ids hold a widget index in 16 bits (case-ids.ts), far above this.
  maxWidgets: 5000,
  maxDays: 3650,
} as const;

/**
 * Thrown for a bad option; the message is one line meant for a human. `option` names the option the message starts
 * with, so the CLI can say `--last-page-link` where the library says `lastPageLink`.
 */
export class SandboxOptionError extends Error {
  override name = 'SandboxOptionError';
  constructor(
    message: string,
    readonly option?: keyof SandboxOptions,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

// Every key of SandboxOptions: from plain JavaScript (or an object built elsewhere) a misspelt option would
// otherwise be ignored, and a test would run on the defaults without a word.
const OPTION_NAMES: ReadonlyArray<keyof SandboxOptions> = ['port', 'seed', 'cases', 'widgets', 'days', 'faults', 'now', 'lastPageLink', 'trailingEmptyPage', 'chatBooleans', 'quirks', 'endDay'];

/** A value as the user wrote it: "8080" (a string) must not read like 8080 (a number). */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function integerOption(name: keyof SandboxOptions, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new SandboxOptionError(`${name} must be an integer between ${min} and ${max}, got ${shown(value)}`, name);
  }
  return value;
}

function booleanOption(name: keyof SandboxOptions, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new SandboxOptionError(`${name} must be true or false, got ${shown(value)}`, name);
  return value;
}

function chatBooleansOption(value: unknown): ChatBooleans {
  if (value === undefined) return 'doc';
  if (!(CHAT_BOOLEANS as readonly unknown[]).includes(value)) throw new SandboxOptionError(`chatBooleans must be one of ${CHAT_BOOLEANS.join(', ')}, got ${JSON.stringify(value)}`, 'chatBooleans');
  return value as ChatBooleans;
}

function endDayOption(value: unknown): EndDay {
  if (value === undefined) return 'inclusive';
  if (!(END_DAYS as readonly unknown[]).includes(value)) throw new SandboxOptionError(`endDay must be one of ${END_DAYS.join(', ')}, got ${JSON.stringify(value)}`, 'endDay');
  return value as EndDay;
}

export function resolveOptions(options: SandboxOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new SandboxOptionError(`options must be an object such as { cases: 1000 }, got ${shown(options)}`);
  for (const name of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(name)) {
      throw new SandboxOptionError(`unknown option "${name}" (known: ${OPTION_NAMES.join(', ')})`);
    }
  }
  const faultText = options.faults ?? '';
  if (typeof faultText !== 'string') throw new SandboxOptionError('faults must be a string such as "429=0.1,rps=20"', 'faults');
  let faults: FaultSpec;
  try {
    faults = parseFaultSpec(faultText);
  } catch (error) {
    // parseFaultSpec speaks of the "fault spec" (the admin API takes one too); here the spec is the faults option.
    throw new SandboxOptionError(`faults: ${(error as Error).message.replace(/^fault spec: /, '')}`, 'faults');
  }
  const now = options.now ?? Date.now();
  const nowMs = now instanceof Date ? now.getTime() : now;
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) throw new SandboxOptionError('now must be a Date or epoch milliseconds', 'now');
  // Past year 9999 the data's days are no YYYY-MM-DD a Logs API query can name (and past Date's range none at all).
  if (nowMs < 0 || nowMs > LAST_NOW_MS) {
    const shownNow = Math.abs(nowMs) <= 8.64e15 ? new Date(nowMs).toISOString() : String(nowMs);
    throw new SandboxOptionError(`now must be a time between 1970-01-01 and 9999-12-31 (UTC), got ${shownNow}`, 'now');
  }
  return {
    port: integerOption('port', options.port, 0, 0, 65535),
    seed: integerOption('seed', options.seed, 42, 0, Number.MAX_SAFE_INTEGER),
    cases: integerOption('cases', options.cases, 5000, 0, LIMITS.maxCases),
    widgets: integerOption('widgets', options.widgets, 3, 1, LIMITS.maxWidgets),
    days: integerOption('days', options.days, 90, 1, LIMITS.maxDays),
    faults,
    faultText,
    nowMs: Math.floor(nowMs),
    paging: resolvePagingEnd(options, { lastPageLink: 'absent', trailingEmptyPage: false }),
    chatBooleans: chatBooleansOption(options.chatBooleans),
    quirks: booleanOption('quirks', options.quirks),
    endDay: endDayOption(options.endDay),
  };
}

import { getHeapStatistics } from 'node:v8';
import { parseCaseQuery } from '../case-query.js';
import type { CaseRecord } from '../case-generator.js';
import { availabilityJson, widgetJson } from '../fixtures.js';
import { BodyTooLargeError, drained, error, json, NDJSON_TYPE, readBody, type Reply } from '../http-kit.js';
import { parseKeepingLargeIntegers, stringifyKeepingLargeIntegers } from '../large-integers.js';
import { route, type RequestContext, type Route, type RouteMisses } from '../state.js';
import { userJson } from './provisioning.js';

// Admin API under /__sandbox/ (no auth, loopback only, never subject to faults): the exact truth to compare
// a load against, case injection, late survey results, faults and reset at run time, stats.

/** Injection bodies may be large (tests post 50 MB of hostile records); beyond this we answer 413. */
const INJECT_BODY_LIMIT = 64 * 1024 * 1024;
const SMALL_BODY_LIMIT = 1024 * 1024;
const STREAM_CHUNK = 64 * 1024;

/**
 * Fatal: a body in Latin-1 or cut mid-character was read with U+FFFD in place of its bytes and the case served that
 * way in the truth and the Logs API alike, so a test of accented text passed while testing replacement characters.
 * The BOM is kept, as before (JSON.parse refuses it).
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Offset of the first byte of the first invalid UTF-8 sequence (only called on a body that has one), and whether that
 * sequence is a character cut at the body's end.
 */
function firstInvalidUtf8(bytes: Buffer): { at: number; cutAtEnd: boolean } {
  let low = 0;
  let high = bytes.length;
  // The longest prefix with no error, a character begun at its end allowed, by bisection: such prefixes only shrink.
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if (decodes(bytes.subarray(0, middle), true)) low = middle;
    else high = middle - 1;
  }
  // The error shows at the byte that breaks a character (0xE9 then a quote: at the quote); the character began at most
  // three bytes before, where the last whole prefix ends.
  let at = low;
  while (at > 0 && !decodes(bytes.subarray(0, at), false)) at--;
  return { at, cutAtEnd: low === bytes.length };
}

function decodes(bytes: Buffer, stream: boolean): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream });
    return true;
  } catch {
    return false;
  }
}

type JsonBody = { ok: true; body: Record<string, unknown> } | { ok: false; reply: Reply };

async function readJsonObject(ctx: RequestContext, limit: number, known: readonly string[]): Promise<JsonBody> {
  let raw: Buffer;
  try {
    raw = await readBody(ctx.req, limit);
  } catch (caught) {
    if (caught instanceof BodyTooLargeError) return { ok: false, reply: error(413, caught.message) };
    throw caught;
  }
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    const { at, cutAtEnd } = firstInvalidUtf8(raw);
    const where = cutAtEnd ? 'a character cut at its end' : `byte ${at}`;
    return { ok: false, reply: error(400, `the body is not valid UTF-8 (${where}): send JSON text encoded as UTF-8`) };
  }
  let body: unknown;
  try {
    body = parseKeepingLargeIntegers(text);
  } catch (caught) {
    return { ok: false, reply: error(400, `the body is not valid JSON: ${(caught as Error).message}`) };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { ok: false, reply: error(400, 'the body must be a JSON object') };
  // A misspelt key ({"trailingEmptyPages": true}, {"nochat": true}) would otherwise be ignored with a 200, and the
  // test would go on against a sandbox that does not do what it asked.
  const unknown = Object.keys(body).filter((name) => !known.includes(name));
  if (unknown.length > 0) return { ok: false, reply: error(400, `unknown key ${JSON.stringify(unknown[0])} in the body (known: ${known.join(', ')})`) };
  return { ok: true, body: body as Record<string, unknown> };
}

/**
 * Whether a posted value can be served: JSON.parse takes nesting that JSON.stringify cannot write back (a RangeError
 * once the stack runs out), and every Logs API page and truth stream holding such a record would answer 500.
 */
function tooDeep(value: unknown): boolean {
  try {
    stringifyKeepingLargeIntegers(value);
    return false;
  } catch {
    return true;
  }
}

const TOO_DEEP = 'is nested too deeply for the sandbox to serve back (JSON.stringify runs out of stack): nest it less';

/** Streams NDJSON lines with backpressure, so a million cases never sit in memory at once. */
async function streamLines(ctx: RequestContext, lines: Iterable<string>): Promise<undefined> {
  const { res } = ctx;
  res.writeHead(200, { 'content-type': NDJSON_TYPE });
  // Lines are encoded one by one and written as bytes: a 64 kB string of them was flattened, measured (for the chunk
  // length) and encoded again: writing bytes takes 10-17 % less CPU per line.
  let pieces: Buffer[] = [];
  let size = 0;
  for (const line of lines) {
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    pieces.push(bytes);
    size += bytes.length;
    if (size < STREAM_CHUNK) continue;
    const ok = res.write(Buffer.concat(pieces, size));
    pieces = [];
    size = 0;
    if (res.destroyed) return undefined;
    if (!ok && !(await drained(res))) return undefined;
    // A client in another process that keeps up takes each write at once: 'drain' then comes on process.nextTick, and
    // this loop held the event loop for the whole stream (no other request, no SIGTERM). Let I/O in between chunks.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (res.destroyed) return undefined;
  }
  res.end(Buffer.concat(pieces, size));
  return undefined;
}

function* mapLines<T>(items: Iterable<T>, toLine: (item: T) => string): Generator<string> {
  for (const item of items) yield toLine(item);
}

const TRUTH_PARAMS: readonly string[] = ['resource', 'widgetId', 'start', 'end', 'timezone'];

async function truth(ctx: RequestContext): Promise<Reply | undefined> {
  const { state } = ctx;
  const resource = ctx.url.searchParams.get('resource') ?? 'logs';
  // A misspelt filter (widgetID, from) would otherwise stream every case, and the comparison fail for no clear reason.
  const unknown = [...ctx.url.searchParams.keys()].find((name) => !TRUTH_PARAMS.includes(name));
  if (unknown !== undefined) return error(400, `unknown query parameter ${JSON.stringify(unknown)} (known: ${TRUTH_PARAMS.join(', ')})`);
  // The filters are the Logs API's: with another resource a `widgetId` would be ignored and every record streamed.
  const filter = resource === 'logs' ? undefined : TRUTH_PARAMS.find((name) => name !== 'resource' && ctx.url.searchParams.has(name));
  if (filter !== undefined && ['widgets', 'users', 'chat_availability'].includes(resource)) {
    return error(400, `${filter} filters resource=logs only; resource=${resource} streams every record`);
  }
  const { widgets, credentials } = state.fixtures;
  switch (resource) {
    case 'logs': {
      const parsed = parseCaseQuery(ctx.url.searchParams, state, false);
      if (!parsed.ok) return error(parsed.status, parsed.status === 404 ? 'unknown widgetId' : parsed.message);
      return streamLines(ctx, mapLines(state.store.entries(parsed.query), (entry) => state.store.json(entry)));
    }
    case 'widgets':
      return streamLines(ctx, mapLines(widgets, (w) => JSON.stringify(widgetJson(w, credentials.email))));
    case 'chat_availability':
      return streamLines(ctx, mapLines(widgets, (w) => JSON.stringify(availabilityJson(w, state.options.chatBooleans === 'boolean'))));
    case 'users':
      return streamLines(ctx, mapLines(state.users.values(), (u) => JSON.stringify(userJson(u))));
    default:
      return error(400, `resource "${resource}" is not one of logs, widgets, users, chat_availability`);
  }
}

/**
 * Heap an injected case holds (measured: 2.7 kB with its generated defaults, 0.3 kB bare, beyond its posted fields), with
 * room to spare. Injected cases live in memory, unlike generated ones: a 3 MB body of a million `{}` asked for ~3 GB,
 * and V8 ended the process ("JavaScript heap out of memory") under every test that shared the sandbox.
 */
const HEAP_PER_CASE = { defaults: 4096, bare: 512 } as const;

/** Why `count` more cases do not fit in what is left of the heap (a quarter kept for serving), or undefined. */
function heapShortfall(count: number, bare: boolean): string | undefined {
  const { heap_size_limit: limit, used_heap_size: used } = getHeapStatistics();
  const needed = count * (bare ? HEAP_PER_CASE.bare : HEAP_PER_CASE.defaults);
  const left = limit * 0.75 - used;
  if (needed <= left) return undefined;
  const mb = (bytes: number): string => `${Math.max(0, Math.round(bytes / 1048576))} MB`;
  return `${count} cases would take about ${mb(needed)} of heap and ${mb(left)} is left (of ${mb(limit)}): inject fewer, give node more (NODE_OPTIONS=--max-old-space-size=MB), or start the sandbox with more cases (generated on demand, held nowhere)`;
}

async function injectCases(ctx: RequestContext): Promise<Reply> {
  const read = await readJsonObject(ctx, INJECT_BODY_LIMIT, ['widgetId', 'cases', 'bare', 'noChat']);
  if (!read.ok) return read.reply;
  const body = read.body;
  if (!('cases' in body) || !Array.isArray(body.cases)) return error(400, 'expected {"widgetId": "...", "cases": [{...}, ...]}');
  const widget = ctx.state.fixtures.widgets.find((w) => w.uuid === body.widgetId);
  if (!widget) {
    const known = ctx.state.fixtures.widgets.map((w) => w.uuid).join(', ');
    const problem = body.widgetId === undefined ? 'widgetId is required' : `widgetId ${JSON.stringify(body.widgetId)} is not a widget of this sandbox`;
    return error(400, `${problem}: give one of ${known} (its SNAPENGAGE_WIDGET_ID)`);
  }
  if (body.bare !== undefined && typeof body.bare !== 'boolean') return error(400, 'bare must be true or false');
  if (body.noChat !== undefined && typeof body.noChat !== 'boolean') return error(400, 'noChat must be true or false');
  const cases = body.cases as unknown[];
  for (const [i, item] of cases.entries()) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return error(400, `cases[${i}] must be a JSON object`);
    if (tooDeep(item)) return error(400, `cases[${i}] ${TOO_DEEP}`);
  }
  const tooMany = heapShortfall(cases.length, body.bare === true);
  if (tooMany) return error(413, tooMany);
  const added = ctx.state.store.inject(widget.index, cases as CaseRecord[], ctx.state.now(), body.bare === true);
  // Cases only the Logs API knows (an email or offline message, a chat the Visitor Chat API has forgotten).
  if (body.noChat === true) ctx.state.chats.forget(added.map((c) => c.id).filter((id): id is string => typeof id === 'string'));
  return json(201, { ids: added.map((c) => c.id) });
}

async function updateSurveys(ctx: RequestContext): Promise<Reply> {
  const read = await readJsonObject(ctx, INJECT_BODY_LIMIT, ['updates']);
  if (!read.ok) return read.reply;
  const body = read.body;
  if (!('updates' in body) || !Array.isArray(body.updates)) return error(400, 'expected {"updates": [{"caseId": "...", "survey_score": 80, "survey_comments": "..."}]}');
  const updates = body.updates as unknown[];
  const unknown: string[] = [];
  for (const [i, item] of updates.entries()) {
    if (item === null || typeof item !== 'object' || typeof (item as CaseRecord).caseId !== 'string') return error(400, `updates[${i}] needs a string caseId`);
    if (tooDeep(item)) return error(400, `updates[${i}] ${TOO_DEEP}`);
    const caseId = (item as CaseRecord).caseId as string;
    if (!ctx.state.store.find(caseId)) unknown.push(caseId);
  }
  // All or nothing: a typo in one id must not leave half the updates applied.
  if (unknown.length > 0) return json(404, { error: 'unknown case ids', caseIds: unknown });
  for (const item of updates as CaseRecord[]) {
    const fields: CaseRecord = {};
    for (const name of ['survey_score', 'survey_comments']) if (name in item) fields[name] = item[name];
    ctx.state.store.setSurvey(item.caseId as string, fields);
  }
  return json(200, { updated: updates.length });
}

async function setFaults(ctx: RequestContext): Promise<Reply> {
  const read = await readJsonObject(ctx, SMALL_BODY_LIMIT, ['faults']);
  if (!read.ok) return read.reply;
  const body = read.body;
  if (typeof body.faults !== 'string') return error(400, 'expected {"faults": "429=0.1,500=0.05,..."} ("" = none)');
  try {
    ctx.state.admin.setFaults(body.faults);
  } catch (caught) {
    return error(400, (caught as Error).message);
  }
  return json(200, { faults: body.faults });
}

async function setPaging(ctx: RequestContext): Promise<Reply> {
  const read = await readJsonObject(ctx, SMALL_BODY_LIMIT, ['lastPageLink', 'trailingEmptyPage']);
  if (!read.ok) return read.reply;
  try {
    return json(200, ctx.state.admin.setPaging(read.body));
  } catch (caught) {
    return error(400, (caught as Error).message);
  }
}

function reset(ctx: RequestContext): Reply {
  ctx.state.admin.reset();
  return json(200, { reset: true });
}

function stats(ctx: RequestContext): Reply {
  return json(200, ctx.state.admin.stats());
}

function credentials(ctx: RequestContext): Reply {
  return json(200, { ...ctx.state.fixtures.credentials, baseUrl: ctx.state.baseUrl, startDate: ctx.state.startDate });
}

export const adminRoutes: readonly Route[] = [
  route('/__sandbox/truth', { GET: truth }),
  route('/__sandbox/cases', { POST: injectCases }),
  route('/__sandbox/surveys', { POST: updateSurveys }),
  route('/__sandbox/faults', { POST: setFaults }),
  route('/__sandbox/paging', { POST: setPaging }),
  route('/__sandbox/reset', { POST: reset }),
  route('/__sandbox/stats', { GET: stats }),
  route('/__sandbox/credentials', { GET: credentials }),
];

/** The admin API is the sandbox's own, not SnapEngage's: a miss says what exists instead of an empty 404. */
export const adminMisses: RouteMisses = {
  notFound(_method, url) {
    const endpoints = adminRoutes.flatMap((r) => Object.keys(r.methods).map((method) => `${method} ${r.template}`));
    return error(404, `no admin endpoint ${url.pathname}: the admin API has ${endpoints.join(', ')}`);
  },
  methodNotAllowed(method, url, allowed) {
    const reply = error(405, `${method} ${url.pathname} is not supported: use ${allowed.map((m) => `${m} ${url.pathname}`).join(' or ')}`);
    reply.headers = { allow: allowed.join(', ') };
    return reply;
  },
};

import { encodeCursor, parseCaseQuery } from '../case-query.js';
import { error, headerValue, jsonBytes, notFound, type Reply } from '../http-kit.js';
import { route, type RequestContext, type Route } from '../state.js';
import type { SortKey } from '../store.js';

// Logs API: GET /api/v2/{orgId}/logs — pages of 100 cases with an absolute `linkToNextSetOfResults`.

const PAGE_SIZE = 100;
const COMMA = Buffer.from(',');

function getAllLogs(ctx: RequestContext): Reply {
  const { state, url } = ctx;
  const credentials = state.fixtures.credentials;
  // The raw token, exactly: "Bearer <token>" is not how SnapEngage takes it.
  if (headerValue(ctx.req.headers, 'authorization') !== credentials.apiToken) {
    return error(401, 'missing or wrong API token: send the raw token in the Authorization header (no "Bearer " prefix)');
  }
  if (ctx.params.orgId !== credentials.orgId) return notFound();
  const parsed = parseCaseQuery(url.searchParams, state, true);
  if (!parsed.ok) return parsed.status === 404 ? notFound() : error(400, parsed.message);

  // "this capability only works when specifying a single widgetId": with several widgets, or none specified (even
  // in an organisation of one widget: whether the API then takes the single-widget path is unknown), we answer the
  // first 100 matching cases and no next link, so a client that leaves widgetId out loses data here too.
  const paginated = parsed.singleWidgetRequested;
  const pieces: Buffer[] = [Buffer.from('{"cases":[')];
  let count = 0;
  let lastKey: SortKey | undefined;
  let more = false;
  for (const entry of state.store.entries(parsed.query)) {
    if (count === PAGE_SIZE) {
      more = true;
      break;
    }
    if (count > 0) pieces.push(COMMA);
    pieces.push(Buffer.from(state.store.json(entry), 'utf8'));
    count++;
    lastKey = { t: entry.t, id: entry.id, n: entry.n ?? 0 };
  }
  let tail = ']';
  const { lastPageLink, trailingEmptyPage } = state.paging;
  if (paginated && lastKey && (more || (trailingEmptyPage && count === PAGE_SIZE))) {
    const next = new URL(`${url.pathname}`, state.baseUrl);
    for (const [name, value] of url.searchParams) if (name !== 'next') next.searchParams.append(name, value);
    next.searchParams.set('next', encodeCursor(lastKey));
    tail += `,"linkToNextSetOfResults":${JSON.stringify(next.toString())}`;
  } else if (lastPageLink !== 'absent') {
    // How the real API marks the last page is unknown: absent, "" or null (all three seen handled by clients).
    tail += `,"linkToNextSetOfResults":${lastPageLink === 'empty' ? '""' : 'null'}`;
  }
  pieces.push(Buffer.from(`${tail}}`, 'utf8'));
  return jsonBytes(200, pieces);
}

export const logsRoutes: Route[] = [route('/api/v2/{orgId}/logs', { GET: getAllLogs })];

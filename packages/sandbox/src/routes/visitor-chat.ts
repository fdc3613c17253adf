import { availabilityJson, type WidgetFixture } from '../fixtures.js';
import { BodyTooLargeError, error, headerValue, json, notFound, readBody, type Reply } from '../http-kit.js';
import { route, type RequestContext, type Route } from '../state.js';

// Visitor Chat API (x-api-key header): availability, poll, start chat, send message / close, and the public
// family: widget availability (no credential, per public code) and the unverified visitorTyping endpoint.

const FORM_BODY_LIMIT = 1024 * 1024;

function unauthorized(ctx: RequestContext): Reply | undefined {
  if (headerValue(ctx.req.headers, 'x-api-key') === ctx.state.fixtures.credentials.apiKey) return undefined;
  return error(401, 'missing or wrong API key: send it in the x-api-key header');
}

function findWidget(ctx: RequestContext, id: string | undefined): WidgetFixture | undefined {
  return ctx.state.fixtures.widgets.find((w) => w.uuid === id);
}

/** agentTyping / typing on the wire: JSON booleans unless the sandbox was started with chatBooleans "string". */
function typingFlag(ctx: RequestContext, value: boolean): boolean | string {
  return ctx.state.options.chatBooleans === 'string' ? String(value) : value;
}

/** Reads "true"/"false" (any case; the docs say Boolean, the examples send strings). */
function parseLooseBoolean(value: string | null, fallback: boolean): boolean | undefined {
  if (value === null || value === '') return fallback;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  return undefined;
}

/** Parameters from the query string, completed by an x-www-form-urlencoded body (the doc sends the query). */
async function formParams(ctx: RequestContext): Promise<URLSearchParams | Reply> {
  const params = new URLSearchParams(ctx.url.searchParams);
  let body: Buffer;
  try {
    body = await readBody(ctx.req, FORM_BODY_LIMIT);
  } catch (caught) {
    if (caught instanceof BodyTooLargeError) return error(413, caught.message);
    throw caught;
  }
  const type = headerValue(ctx.req.headers, 'content-type') ?? '';
  if (body.length > 0 && type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    for (const [name, value] of new URLSearchParams(body.toString('utf8'))) if (!params.has(name)) params.set(name, value);
  }
  return params;
}

function checkAvailability(ctx: RequestContext): Reply {
  const denied = unauthorized(ctx);
  if (denied) return denied;
  const widget = findWidget(ctx, ctx.params.widgetId);
  return widget ? json(200, availabilityJson(widget, ctx.state.options.chatBooleans === 'boolean')) : notFound();
}

function pollChatMessages(ctx: RequestContext): Reply {
  const denied = unauthorized(ctx);
  if (denied) return denied;
  const indexText = ctx.url.searchParams.get('index');
  const index = indexText === null || indexText === '' ? 0 : Number(indexText);
  if (!Number.isSafeInteger(index) || index < 0 || !/^\d*$/.test(indexText ?? '')) return error(400, `index "${indexText}" must be a non-negative integer`);
  const typing = parseLooseBoolean(ctx.url.searchParams.get('isTyping'), false);
  if (typing === undefined) return error(400, 'isTyping must be true or false');
  const entry = ctx.state.store.find(ctx.params.caseId ?? '');
  if (!entry || !ctx.state.chats.knows(entry.id)) return notFound();
  ctx.state.chats.setVisitorTyping(entry.id, typing);
  const poll = ctx.state.chats.poll(entry, index);
  return json(200, { ...poll, agentTyping: typingFlag(ctx, poll.agentTyping) });
}

async function startChat(ctx: RequestContext): Promise<Reply> {
  const denied = unauthorized(ctx);
  if (denied) return denied;
  const params = await formParams(ctx);
  if (!(params instanceof URLSearchParams)) return params;
  const widgetId = params.get('widgetId');
  if (!widgetId) return error(400, 'widgetId is required');
  const widget = findWidget(ctx, widgetId);
  if (!widget) return notFound();
  const isOffline = parseLooseBoolean(params.get('isOffline'), false);
  if (isOffline === undefined) return error(400, 'isOffline must be true or false');
  const email = params.get('email') || undefined;
  const visitorMessage = params.get('visitorMessage') || undefined;
  if (widget.emailRequired && !email) return error(400, 'email is required by this widget (emailRequired)');
  if (widget.messageRequired && !visitorMessage) return error(400, 'visitorMessage is required by this widget (messageRequired)');
  if (email && !/^[^@\s]+@[^@\s]+$/.test(email)) return error(400, `email "${email}" is not an email address`);
  const caseId = ctx.state.chats.start(
    widget,
    {
      email,
      phone: params.get('phone') || undefined,
      userAgent: params.get('userAgent') || undefined,
      locale: params.get('locale') || undefined,
      isOffline,
      appVersionName: params.get('appVersionName') || undefined,
      visitorMessage,
    },
    ctx.state.now(),
  );
  return json(200, { caseId, widgetId: widget.uuid });
}

async function sendChatMessage(ctx: RequestContext): Promise<Reply> {
  const denied = unauthorized(ctx);
  if (denied) return denied;
  const params = await formParams(ctx);
  if (!(params instanceof URLSearchParams)) return params;
  const caseId = params.get('caseId');
  if (!caseId) return error(400, 'caseId is required');
  const typeText = params.get('messageType') || '1';
  if (typeText !== '1' && typeText !== '2') return error(400, 'messageType must be 1 (message) or 2 (close the chat)');
  // messageBody is optional in the docs (and the spec), even for a normal message: an empty one is acknowledged.
  const messageBody = params.get('messageBody');
  const entry = ctx.state.store.find(caseId);
  if (!entry || !ctx.state.chats.knows(entry.id)) return notFound();
  const refused = ctx.state.chats.send(entry, typeText === '1' ? 1 : 2, messageBody ?? '', ctx.state.now());
  if (refused) return error(400, refused);
  return json(200, { caseId: entry.id, messageBody: messageBody ?? '', messageType: typeText });
}

/**
 * Widget Availability API: no credential (public code calls it without one) and the `data` envelope public code
 * reads; `online` is a string as that code compares it, unless chatBooleans is "boolean".
 */
function getPublicWidgetAvailability(ctx: RequestContext): Reply {
  const widget = findWidget(ctx, ctx.params.widgetId);
  if (!widget) return notFound();
  const online = ctx.state.options.chatBooleans === 'boolean' ? widget.online : String(widget.online);
  return json(200, { data: { online } });
}

function getVisitorTyping(ctx: RequestContext): Reply {
  const denied = unauthorized(ctx);
  if (denied) return denied;
  const widget = findWidget(ctx, ctx.params.widgetId);
  const entry = ctx.state.store.find(ctx.params.caseId ?? '');
  if (!widget || !entry || entry.widgetIndex !== widget.index || !ctx.state.chats.knows(entry.id)) return notFound();
  return json(200, { statusCode: 1, data: { typing: typingFlag(ctx, ctx.state.chats.visitorTyping(entry.id)) } });
}

export const visitorChatRoutes: Route[] = [
  route('/api/v1/chat', { POST: startChat, PUT: sendChatMessage }),
  route('/api/v1/chat/poll/{caseId}', { GET: pollChatMessages }),
  route('/api/v1/chat/{widgetId}', { GET: checkAvailability }),
  route('/public/api/v2/chat/{widgetId}', { GET: getPublicWidgetAvailability }),
  route('/public/api/v2/chat/{widgetId}/{caseId}/visitorTyping', { GET: getVisitorTyping }),
];

import { widgetJson, type UserRecord } from '../fixtures.js';
import { BodyTooLargeError, error, json, notFound, readBody, type Reply } from '../http-kit.js';
import { route, type RequestContext, type Route } from '../state.js';

// Provisioning API (api_key query parameter): widget details, user details, create user.

const JSON_BODY_LIMIT = 1024 * 1024;
const ACCOUNT_TYPES = ['trial', 'biz', 'entr', 'stp', 'prem', 'enterprise'];
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function unauthorized(ctx: RequestContext): Reply | undefined {
  if (ctx.url.searchParams.get('api_key') === ctx.state.fixtures.credentials.provisioningKey) return undefined;
  return error(401, 'missing or wrong API key: send it as the api_key query parameter');
}

/** The user as the API shows it: never the password. */
export function userJson(user: UserRecord): Record<string, unknown> {
  return { email: user.email, name: user.name, phone: user.phone, accountType: user.accountType };
}

function getWidget(ctx: RequestContext): Reply {
  const denied = unauthorized(ctx);
  if (denied) return denied;
  const uuid = ctx.url.searchParams.get('uuid');
  const email = ctx.url.searchParams.get('email');
  if (!uuid) return error(400, 'uuid (the widget id) is required');
  if (!email) return error(400, 'email (the account email) is required');
  const { widgets, credentials } = ctx.state.fixtures;
  const widget = widgets.find((w) => w.uuid === uuid);
  // A widget is only visible through the account that owns it.
  if (!widget || email.toLowerCase() !== credentials.email) return notFound();
  return json(200, widgetJson(widget, credentials.email));
}

function getUser(ctx: RequestContext): Reply {
  const denied = unauthorized(ctx);
  if (denied) return denied;
  const email = ctx.url.searchParams.get('email');
  if (!email) return error(400, 'email is required');
  const user = ctx.state.users.get(email.toLowerCase());
  return user ? json(200, userJson(user)) : notFound();
}

function stringField(body: Record<string, unknown>, name: string, required: boolean, min: number, max: number): string | Reply | undefined {
  const value = body[name];
  if (value === undefined || value === null) return required ? error(400, `${name} is required`) : undefined;
  if (typeof value !== 'string') return error(400, `${name} must be a string`);
  if (value.length < min || value.length > max) return error(400, `${name} must be ${min} to ${max} characters long`);
  return value;
}

async function createUser(ctx: RequestContext): Promise<Reply> {
  const denied = unauthorized(ctx);
  if (denied) return denied;
  let raw: Buffer;
  try {
    raw = await readBody(ctx.req, JSON_BODY_LIMIT);
  } catch (caught) {
    if (caught instanceof BodyTooLargeError) return error(413, caught.message);
    throw caught;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return error(400, 'the body must be a JSON object {email, name, accountType, password, phone?, templateId?}');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return error(400, 'the body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const email = stringField(fields, 'email', true, 3, 99);
  const name = stringField(fields, 'name', true, 1, 99);
  const accountType = stringField(fields, 'accountType', true, 1, 99);
  const password = stringField(fields, 'password', true, 5, 100);
  const phone = stringField(fields, 'phone', false, 0, 99);
  const templateId = stringField(fields, 'templateId', false, 0, 200);
  for (const value of [email, name, accountType, password, phone, templateId]) if (value !== undefined && typeof value !== 'string') return value;
  if (typeof email !== 'string' || !EMAIL_PATTERN.test(email)) return error(400, 'email is not an email address');
  if (typeof accountType !== 'string' || !ACCOUNT_TYPES.includes(accountType)) {
    return error(400, `accountType must be one of ${ACCOUNT_TYPES.join(', ')} (case-sensitive)`);
  }
  const login = email.toLowerCase();
  if (ctx.state.users.has(login)) return error(400, `a user with email ${login} already exists`);
  const user: UserRecord = { email: login, name: typeof name === 'string' ? name : null, phone: typeof phone === 'string' ? phone : null, accountType };
  ctx.state.users.set(login, user);
  return json(201, userJson(user));
}

export const provisioningRoutes: Route[] = [
  route('/api/v1/widget.json', { GET: getWidget }),
  route('/api/v1/user.json', { GET: getUser, PUT: createUser }),
];

import { AGENT_NAMES, WIDGET_NAMES } from './corpus.js';
import { hashInts, Rng } from './random.js';

// The organisation the sandbox pretends to be: credentials, widgets with their agents, the owner account.
// All derived from the seed, so a given seed always prints the same credentials.

/** The credentials a client needs, one per SnapEngage auth scheme, plus the ids it asks about. */
export interface SandboxCredentials {
  /** Organisation id, the `{orgId}` of the Logs API path. */
  orgId: string;
  /** Logs API token, sent raw in the `Authorization` header. */
  apiToken: string;
  /** Visitor Chat API key, sent in the `x-api-key` header. */
  apiKey: string;
  /** Provisioning API key, sent as the `api_key` query parameter. */
  provisioningKey: string;
  /** Ids of the widgets of the organisation, in order. */
  widgetIds: string[];
  /** Email of the account owner (the Provisioning API's `email`). */
  email: string;
}

export interface Agent {
  agentId: string;
  agentAlias: string;
  agentAvatar: string;
  agentType: string;
}

export interface WidgetFixture {
  index: number;
  uuid: string;
  name: string;
  destinationEmail: string;
  agents: Agent[];
  online: boolean;
  emailRequired: boolean;
  messageRequired: boolean;
  screenshotRequired: boolean;
}

export interface UserRecord {
  email: string;
  name: string | null;
  phone: string | null;
  accountType: string | null;
}

export interface Fixtures {
  credentials: SandboxCredentials;
  widgets: WidgetFixture[];
  owner: UserRecord;
}

const OWNER_EMAIL = 'owner@sandbox.example.com';

export function buildFixtures(key: number, widgetCount: number): Fixtures {
  const rng = new Rng(hashInts(key, 0xc4ed5));
  const orgId = rng.uuid();
  const apiToken = rng.hex(40);
  const apiKey = rng.hex(32);
  const provisioningKey = rng.hex(32);
  const widgets: WidgetFixture[] = [];
  for (let index = 0; index < widgetCount; index++) {
    const widgetRng = new Rng(hashInts(key, 0x3d9e7, index));
    const uuid = widgetRng.uuid();
    const baseName = WIDGET_NAMES[index % WIDGET_NAMES.length] ?? 'Support';
    const name = index < WIDGET_NAMES.length ? baseName : `${baseName} ${Math.floor(index / WIDGET_NAMES.length) + 1}`;
    const agentCount = widgetRng.int(2, 4);
    const firstAgent = widgetRng.int(0, AGENT_NAMES.length - 1);
    const agents: Agent[] = [];
    for (let a = 0; a < agentCount; a++) {
      const person = AGENT_NAMES[(firstAgent + a) % AGENT_NAMES.length] ?? { first: 'Sam', last: 'Taylor', handle: 'sam' };
      agents.push({
        agentId: `${person.handle}${index > 0 ? index : ''}@sandbox.example.com`,
        agentAlias: person.first,
        agentAvatar: `https://sandbox.example.com/avatars/${person.handle}.png`,
        agentType: a === 0 ? 'admin' : 'agent',
      });
    }
    widgets.push({
      index,
      uuid,
      name,
      destinationEmail: `transcripts+${index + 1}@sandbox.example.com`,
      agents,
      // Widget 0 is always online and asks for nothing, so the first demo chat just works.
      online: index === 0 || widgetRng.chance(0.6),
      emailRequired: index !== 0 && widgetRng.chance(0.5),
      messageRequired: index !== 0 && widgetRng.chance(0.3),
      screenshotRequired: false,
    });
  }
  return {
    credentials: { orgId, apiToken, apiKey, provisioningKey, widgetIds: widgets.map((w) => w.uuid), email: OWNER_EMAIL },
    widgets,
    owner: { email: OWNER_EMAIL, name: 'Sandbox Owner', phone: '+1 555-0100', accountType: 'enterprise' },
  };
}

/** The Provisioning API's widget shape. */
export function widgetJson(widget: WidgetFixture, ownerEmail: string): Record<string, unknown> {
  return {
    uuid: widget.uuid,
    name: widget.name,
    email: ownerEmail,
    destinationEmail: widget.destinationEmail,
    agents: widget.agents.map((agent) => ({ ...agent })),
  };
}

/** The Visitor Chat API's availability shape; booleans are strings as in the doc example unless `asBooleans`. */
export function availabilityJson(widget: WidgetFixture, asBooleans = false): Record<string, string | boolean> {
  const flag = (value: boolean): string | boolean => (asBooleans ? value : String(value));
  return {
    widgetId: widget.uuid,
    online: flag(widget.online),
    emailRequired: flag(widget.emailRequired),
    messageRequired: flag(widget.messageRequired),
    screenshotRequired: flag(widget.screenshotRequired),
  };
}

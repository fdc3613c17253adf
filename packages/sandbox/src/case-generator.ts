import {
  AGENT_LINES,
  CLIENTS,
  EMAIL_DOMAINS,
  JS_VARIABLE_NAMES,
  LABEL_VALUES,
  LANGUAGE_CODES,
  OFFLINE_MESSAGES,
  OPENERS,
  OPERATOR_VARIABLE_NAMES,
  PAGES,
  PLACES,
  REFERRERS,
  SURVEY_COMMENTS,
  VISITOR_FOLLOW_UPS,
  VISITORS,
} from './corpus.js';
import type { Agent, WidgetFixture } from './fixtures.js';
import { hashInts, Rng } from './random.js';

// Builds one case in the Logs API's shape from (seed, kind, widget, index). Key order is fixed, so the same
// case always serializes to the same bytes — the truth endpoint and the Logs API share this function.
// Some optional keys are left out or null on purpose: public clients treat every Case key as optional.

export type CaseRecord = Record<string, unknown>;

interface TranscriptEntry {
  id: string;
  date: number;
  date_seconds: number;
  date_milliseconds: number;
  alias: string;
  message: string;
  translations: string;
}

const SITE = 'https://shop.example.com';

function viewCaseUrl(id: string): string {
  return `https://www.snapengage.com/viewcase?c=${id}`;
}

function transcriptEntry(author: Agent | undefined, date: number, message: string): TranscriptEntry {
  return {
    id: author ? `wc:${author.agentId}` : '',
    date,
    date_seconds: Math.floor(date / 1000),
    date_milliseconds: date,
    alias: author ? author.agentAlias : '',
    message,
    translations: '',
  };
}

/** A chat's transcript: visitor and agent lines alternating, 0 to 40 entries, times increasing. */
function buildTranscript(rng: Rng, agent: Agent, opener: string, startMs: number): TranscriptEntry[] {
  const roll = rng.next();
  const length = roll < 0.08 ? 0 : roll < 0.33 ? rng.int(1, 3) : roll < 0.83 ? rng.int(4, 12) : rng.int(13, 40);
  const entries: TranscriptEntry[] = [];
  let t = startMs;
  let visitorTurn = true;
  for (let i = 0; i < length; i++) {
    const message = i === 0 ? opener : visitorTurn ? rng.pick(VISITOR_FOLLOW_UPS) : rng.pick(AGENT_LINES);
    entries.push(transcriptEntry(visitorTurn ? undefined : agent, t, message));
    t += rng.int(3_000, 90_000);
    // Mostly alternate, sometimes one side writes twice in a row.
    if (rng.chance(0.85)) visitorTurn = !visitorTurn;
  }
  return entries;
}

function nameValues(rng: Rng, names: readonly string[], count: number, valueOf: (name: string) => string): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  const start = rng.int(0, names.length - 1);
  for (let i = 0; i < count && i < names.length; i++) {
    const name = names[(start + i) % names.length] ?? 'name';
    out.push({ name, value: valueOf(name) });
  }
  return out;
}

function jsVariableValue(rng: Rng, name: string): string {
  switch (name) {
    case 'cartValue':
      return (rng.int(500, 50000) / 100).toFixed(2);
    case 'plan':
      return rng.pick(['free', 'pro', 'team']);
    case 'abTest':
      return rng.pick(['control', 'variant-b', 'variant-ç']);
    case 'locale':
      return rng.pick(['en-US', 'fr-FR', 'ja-JP', 'pt-BR']);
    default:
      return rng.hex(12);
  }
}

function ipAddress(rng: Rng): string {
  if (rng.chance(0.1)) return `2001:db8:${rng.hex(4)}::${rng.hex(4)}`;
  return `${rng.pick([198, 203, 192])}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

/**
 * The other readings of what the reference (shared/reference/snapengage-api.md) leaves unknown, for the `quirks`
 * option. Drawn from a PRNG of their own, so a sandbox without quirks serves the same bytes as before.
 * - `created_at_milliseconds` and transcript `date_milliseconds`: the 0-999 part of the second, not full epoch ms
 *   (§1, §9.2: which one is unknown). All cases of a quirky sandbox use that reading, as a real API would.
 * - `requester_details`: the key cut off as `"age…` in the doc sample (any scalar) and a key no source lists (§1).
 * - `widget_id`, a top-level key the Logs API is not known to send (Integration API consumers read it, §5): a
 *   loader must keep unlisted keys, not choke on them.
 * - transcript `translations`: an array, an object or null instead of TAP's string (§1: shape unknown).
 * - `javascript_variables` values: numbers and booleans (§1: shape unknown; set from page code).
 */
function applyQuirks(record: CaseRecord, rng: Rng, widget: WidgetFixture): void {
  const seconds = record.created_at_seconds;
  if (typeof record.created_at_milliseconds === 'number' && typeof seconds === 'number') {
    record.created_at_milliseconds = record.created_at_milliseconds - seconds * 1000;
  }
  const details = record.requester_details;
  if (details !== null && typeof details === 'object') {
    const extra = details as CaseRecord;
    if (rng.chance(0.5)) extra.age = rng.pick<unknown>(['25-34', 31, '', null]);
    if (rng.chance(0.3)) extra.company = rng.pick(['Acme GmbH', 'Société Générale', '株式会社テスト']);
  }
  if (rng.chance(0.5)) record.widget_id = widget.uuid;
  if (Array.isArray(record.transcripts)) {
    const shape = rng.int(0, 3);
    for (const line of record.transcripts as CaseRecord[]) {
      if (typeof line.date_milliseconds === 'number' && typeof line.date_seconds === 'number') line.date_milliseconds -= line.date_seconds * 1000;
      if (shape === 1) line.translations = [];
      else if (shape === 2) line.translations = { fr: 'Bonjour', ja: 'こんにちは' };
      else if (shape === 3) line.translations = null;
    }
  }
  if (Array.isArray(record.javascript_variables)) {
    for (const variable of record.javascript_variables as CaseRecord[]) {
      if (variable.name === 'cartValue' && typeof variable.value === 'string') variable.value = Number(variable.value);
      else if (rng.chance(0.2)) variable.value = rng.chance(0.5);
    }
  }
}

/**
 * Builds a case. `kind`/`index` only seed the PRNG; `id` and `createdMs` are given by the caller (the
 * timeline and id codec for generated cases, "now" and a fresh id for injected ones). `quirks`: see applyQuirks.
 */
export function buildCase(key: number, widget: WidgetFixture, kind: number, index: number, id: string, createdMs: number, quirks = false): CaseRecord {
  const rng = new Rng(hashInts(key, 0xca5e, kind, widget.index, index));
  const isChat = rng.chance(0.78);
  const visitor = rng.pick(VISITORS);
  const email = `${visitor.handle}${rng.int(1, 999)}@${rng.pick(EMAIL_DOMAINS)}`;
  const place = rng.pick(PLACES);
  const client = rng.pick(CLIENTS);
  const agent = rng.pick(widget.agents);
  const opener = isChat ? rng.pick(OPENERS) : rng.pick(OFFLINE_MESSAGES);
  const waitSeconds = rng.int(0, 240);
  const transcripts = isChat ? buildTranscript(rng, agent, opener, createdMs + waitSeconds * 1000) : [];
  const lastEntry = transcripts[transcripts.length - 1];
  const durationSeconds = lastEntry ? Math.floor((lastEntry.date - createdMs) / 1000) + rng.int(5, 60) : 0;
  const page = rng.pick(PAGES);

  const record: CaseRecord = {
    id,
    url: viewCaseUrl(id),
    type: isChat ? 'chat' : 'offline',
  };
  if (rng.chance(0.95)) record.requested_by = email;
  if (rng.chance(0.96)) {
    record.requester_details = {
      name: rng.chance(0.9) ? `${visitor.first} ${visitor.last}` : '',
      emails: rng.chance(0.9) ? [email] : [],
      phones: rng.chance(0.3) ? [`+${rng.int(1, 99)} ${rng.int(100, 999)}-${rng.int(1000, 9999)}`] : [],
      social_profile_links: rng.chance(0.15) ? [`twitter,${visitor.handle.replace('.', '_')},${rng.int(100000, 999999999)},`] : [],
    };
  }
  record.description = opener;
  record.created_at_date = createdMs;
  record.created_at_seconds = Math.floor(createdMs / 1000);
  record.created_at_milliseconds = createdMs;
  record.proactive_chat = isChat && rng.chance(0.15);
  record.page_url = `${SITE}${page}`;
  if (rng.chance(0.65)) record.referrer_url = rng.pick(REFERRERS);
  if (rng.chance(0.95)) record.entry_url = `${SITE}${rng.pick(PAGES)}`;
  record.ip_address = ipAddress(rng);
  record.user_agent = client.userAgent;
  record.browser = client.browser;
  record.os = client.os;
  record.country_code = place.countryCode;
  record.country = place.country;
  if (rng.chance(0.92)) record.region = place.region;
  record.city = rng.chance(0.97) ? place.city : null;
  if (rng.chance(0.94)) {
    record.latitude = Math.round((place.latitude + (rng.next() - 0.5) * 0.2) * 10000) / 10000;
    record.longitude = Math.round((place.longitude + (rng.next() - 0.5) * 0.2) * 10000) / 10000;
  }
  record.source_id = rng.pick([1, 1, 1, 2, 5, 7]);
  if (isChat) {
    record.chat_waittime = waitSeconds;
    record.chat_duration = durationSeconds;
    record.chat_agent_id = agent.agentId;
    record.chat_agent_alias = agent.agentAlias;
  }
  record.language_code = rng.pick(LANGUAGE_CODES);
  if (rng.chance(0.5)) record.destination_url = rng.chance(0.5) ? `${SITE}/thank-you` : '';
  // Survey results exist only for some finished chats (they arrive after the chat closes).
  if (isChat && transcripts.length >= 2 && rng.chance(0.3)) {
    record.survey_score = rng.pick([0, 20, 40, 60, 80, 100]);
    if (rng.chance(0.7)) record.survey_comments = rng.pick(SURVEY_COMMENTS);
  }
  if (rng.chance(0.6)) {
    record.javascript_variables = nameValues(rng, JS_VARIABLE_NAMES, rng.int(1, 3), (name) => jsVariableValue(rng, name));
  }
  if (rng.chance(0.5)) {
    record.operator_variables = nameValues(rng, OPERATOR_VARIABLE_NAMES, rng.int(0, 2), (name) =>
      name === 'order_id' ? `A-${rng.int(10000, 99999)}` : name === 'crm_link' ? `https://crm.example.com/c/${rng.int(1, 99999)}` : rng.pick(['VIP', 'callback', 'é ü ñ', '']),
    );
  }
  record.labels = rng.chance(0.7)
    ? nameValues(rng, Object.keys(LABEL_VALUES), rng.int(1, 3), (name) => rng.pick(LABEL_VALUES[name] ?? ['']))
    : [];
  record.transcripts = transcripts;
  if (quirks) applyQuirks(record, new Rng(hashInts(key, 0x9a1f5, kind, widget.index, index)), widget);
  return record;
}

/** The creation time of a record as the Logs API orders it, or undefined when it carries no usable time. */
export function createdTimeOf(record: CaseRecord): number | undefined {
  const number = (key: string): number | undefined => {
    const value = record[key];
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  };
  // Whether created_at_milliseconds is full epoch ms or the 0-999 part of created_at_seconds is unknown (and
  // created_at_date may be either a number or not): a value below 1e11 (1973 in ms) is no epoch-ms instant.
  const EPOCH_MS = 1e11;
  const ms = number('created_at_milliseconds');
  if (ms !== undefined && ms >= EPOCH_MS) return Math.floor(ms);
  const date = number('created_at_date');
  if (date !== undefined && date >= EPOCH_MS) return Math.floor(date);
  const seconds = number('created_at_seconds');
  if (seconds !== undefined) return Math.floor(seconds * 1000) + (ms !== undefined && ms >= 0 && ms < 1000 ? Math.floor(ms) : 0);
  if (ms !== undefined) return Math.floor(ms);
  return date === undefined ? undefined : Math.floor(date);
}

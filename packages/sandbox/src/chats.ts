import { AGENT_LINES } from './corpus.js';
import type { CaseRecord } from './case-generator.js';
import type { WidgetFixture } from './fixtures.js';
import type { CaseEntry, CaseStore } from './store.js';

// The Visitor Chat API's conversation state. Chats started through the API are real cases (they appear in
// the Logs API and the truth) with a live message list: a scripted agent joins and answers each visitor
// message. For every other case the poll messages are derived from its transcript.

export interface ChatMessage {
  index: number;
  type: 'agent' | 'system';
  author: string;
  text: string;
}

interface ChatSession {
  widget: WidgetFixture;
  messages: ChatMessage[];
  /** Next message index; visitor messages take an index too but are not listed, so indexes have gaps. */
  nextIndex: number;
  agentJoined: boolean;
  closed: boolean;
  startedMs: number;
}

export interface StartChatParams {
  email?: string | undefined;
  phone?: string | undefined;
  userAgent?: string | undefined;
  locale?: string | undefined;
  isOffline: boolean;
  appVersionName?: string | undefined;
  visitorMessage?: string | undefined;
}

/** Keys a freshly started chat cannot have yet. */
const NOT_YET_KNOWN = ['survey_score', 'survey_comments', 'referrer_url', 'operator_variables', 'javascript_variables'];

function transcriptLine(alias: string, agentId: string, date: number, message: string): CaseRecord {
  return { id: agentId ? `wc:${agentId}` : '', date, date_seconds: Math.floor(date / 1000), date_milliseconds: date, alias, message, translations: '' };
}

export class ChatRoom {
  private sessions = new Map<string, ChatSession>();
  private typing = new Map<string, boolean>();
  /** Cases the Visitor Chat API does not know (injected with noChat): it answers 404 for them, as for any unknown chat. */
  private withoutChat = new Set<string>();

  constructor(private readonly store: CaseStore) {}

  reset(): void {
    this.sessions.clear();
    this.typing.clear();
    this.withoutChat.clear();
  }

  /** Makes the Visitor Chat API answer 404 (Chat object not found) for these cases; the Logs API still lists them. */
  forget(caseIds: Iterable<string>): void {
    for (const id of caseIds) this.withoutChat.add(id);
  }

  knows(caseId: string): boolean {
    return !this.withoutChat.has(caseId);
  }

  /** Starts a chat (or an offline message) on a widget; returns the new case id. */
  start(widget: WidgetFixture, params: StartChatParams, nowMs: number): string {
    const agent = widget.agents[0];
    const fields: CaseRecord = {
      type: params.isOffline ? 'offline' : 'chat',
      requester_details: { name: '', emails: params.email ? [params.email] : [], phones: params.phone ? [params.phone] : [], social_profile_links: [] },
      description: params.visitorMessage ?? '',
      proactive_chat: false,
      chat_waittime: 0,
      chat_duration: 0,
      labels: [],
      transcripts: [],
    };
    if (params.email) fields.requested_by = params.email;
    if (params.userAgent) fields.user_agent = params.userAgent;
    if (params.locale) fields.language_code = params.locale;
    const [injected] = this.store.inject(widget.index, [fields], nowMs);
    if (!injected) throw new Error('inject() returned nothing');
    const record = injected.record;
    for (const name of NOT_YET_KNOWN) delete record[name];
    if (!params.email) delete record.requested_by;
    if (params.isOffline) {
      for (const name of ['chat_waittime', 'chat_duration', 'chat_agent_id', 'chat_agent_alias']) delete record[name];
    } else if (agent) {
      record.chat_agent_id = agent.agentId;
      record.chat_agent_alias = agent.agentAlias;
    }
    const session: ChatSession = { widget, messages: [], nextIndex: 0, agentJoined: false, closed: params.isOffline, startedMs: nowMs };
    this.sessions.set(injected.id, session);
    if (!params.isOffline) this.system(session, agent?.agentAlias ?? '', '/NFO Just a moment...<br> ');
    if (params.visitorMessage) this.visitorSays(injected.id, record, session, params.visitorMessage, nowMs);
    return injected.id;
  }

  /**
   * Handles Send Chat Message. Returns an error text for a closed chat. Cases not started through the API
   * have no live session: the message is acknowledged but the stored case does not change.
   */
  send(entry: CaseEntry, messageType: 1 | 2, body: string, nowMs: number): string | undefined {
    const session = this.sessions.get(entry.id);
    if (!session || !entry.injected) return undefined;
    if (session.closed) return 'the chat is closed';
    const record = entry.injected.record;
    if (messageType === 2) {
      session.closed = true;
      record.chat_duration = Math.max(0, Math.floor((nowMs - session.startedMs) / 1000));
      this.system(session, '', '/SYS EMTR false ');
      return undefined;
    }
    // An empty message (messageBody is optional) is acknowledged; there is nothing to add to the chat.
    if (body !== '') this.visitorSays(entry.id, record, session, body, nowMs);
    return undefined;
  }

  poll(entry: CaseEntry, fromIndex: number): { caseId: string; agentTyping: boolean; messageList: ChatMessage[] } {
    const session = this.sessions.get(entry.id);
    const all = session ? session.messages : this.fromTranscript(this.store.record(entry));
    return { caseId: entry.id, agentTyping: false, messageList: all.filter((m) => m.index >= fromIndex) };
  }

  setVisitorTyping(caseId: string, typing: boolean): void {
    this.typing.set(caseId, typing);
  }

  visitorTyping(caseId: string): boolean {
    return this.typing.get(caseId) ?? false;
  }

  private system(session: ChatSession, author: string, text: string): void {
    session.messages.push({ index: session.nextIndex++, type: 'system', author, text });
  }

  private visitorSays(caseId: string, record: CaseRecord, session: ChatSession, text: string, nowMs: number): void {
    const transcripts = Array.isArray(record.transcripts) ? (record.transcripts as CaseRecord[]) : [];
    record.transcripts = transcripts;
    transcripts.push(transcriptLine('', '', nowMs, text));
    session.nextIndex++; // the visitor's own message takes an index but is not listed
    const agent = session.widget.agents[0];
    if (!agent) return;
    if (!session.agentJoined) {
      session.agentJoined = true;
      this.system(session, agent.agentAlias, `/NIC ${agent.agentAlias} `);
    }
    const reply = AGENT_LINES[(transcripts.length + caseId.length) % AGENT_LINES.length] ?? 'Thanks!';
    session.messages.push({ index: session.nextIndex++, type: 'agent', author: agent.agentAlias, text: reply });
    transcripts.push(transcriptLine(agent.agentAlias, agent.agentId, nowMs + 1, reply));
    record.chat_duration = Math.max(0, Math.floor((nowMs - session.startedMs) / 1000));
  }

  /** Poll messages of a finished case: "/NIC <alias> " when an agent first speaks, then the agent lines. */
  private fromTranscript(record: CaseRecord): ChatMessage[] {
    const messages: ChatMessage[] = [];
    const transcripts = Array.isArray(record.transcripts) ? record.transcripts : [];
    const joined = new Set<string>();
    let index = 0;
    for (const item of transcripts) {
      if (item === null || typeof item !== 'object') continue;
      const line = item as CaseRecord;
      const alias = typeof line.alias === 'string' ? line.alias : '';
      const text = typeof line.message === 'string' ? line.message : '';
      const fromAgent = typeof line.id === 'string' && line.id !== '';
      if (!fromAgent) {
        index++;
        continue;
      }
      if (!joined.has(alias)) {
        joined.add(alias);
        messages.push({ index: index++, type: 'system', author: alias, text: `/NIC ${alias} ` });
      }
      messages.push({ index: index++, type: 'agent', author: alias, text });
    }
    return messages;
  }
}

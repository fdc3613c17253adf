import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatRoom } from './chats.js';
import type { Fixtures, UserRecord } from './fixtures.js';
import type { Reply } from './http-kit.js';
import type { PagingEnd, ResolvedOptions } from './options.js';
import type { CaseStore } from './store.js';

// What every route handler can see: the sandbox's data and one request.

export interface SandboxState {
  options: ResolvedOptions;
  /** 32-bit key derived from the seed. */
  key: number;
  fixtures: Fixtures;
  store: CaseStore;
  chats: ChatRoom;
  /** Users of the Provisioning API by lower-cased email. */
  users: Map<string, UserRecord>;
  /** `http://127.0.0.1:<port>`, used to build absolute next-page links. */
  baseUrl: string;
  /** First day of the generated data, YYYY-MM-DD (UTC). */
  startDate: string;
  /** How Logs API sequences end (start-up option, changed by POST /__sandbox/paging, restored by reset). */
  paging: PagingEnd;
  now(): number;
  admin: AdminControl;
}

/** Run-time controls the admin API needs from the server. */
interface AdminControl {
  /** Replaces the fault spec; throws an Error with a clear message for a bad spec. */
  setFaults(spec: string): void;
  /** Changes how Logs API sequences end (keys left out keep their value); throws a SandboxOptionError. */
  setPaging(given: { lastPageLink?: unknown; trailingEmptyPage?: unknown }): PagingEnd;
  /** Back to the seeded state: injected cases, surveys, chats, users, faults and stats. */
  reset(): void;
  stats(): Record<string, unknown>;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  state: SandboxState;
}

/** A handler returns a Reply, or undefined when it streamed the response itself. */
export type Handler = (ctx: RequestContext) => Reply | undefined | Promise<Reply | undefined>;

export interface Route {
  template: string;
  pattern: RegExp;
  names: string[];
  methods: Partial<Record<string, Handler>>;
}

/** What a family of routes answers for a path none of them has, or a method its route lacks. */
export interface RouteMisses {
  notFound(method: string, url: URL): Reply;
  methodNotAllowed(method: string, url: URL, allowed: readonly string[]): Reply;
}

/** Compiles a path template such as `/api/v2/{orgId}/logs` into a Route. */
export function route(template: string, methods: Partial<Record<string, Handler>>): Route {
  const names: string[] = [];
  const source = template
    .split('/')
    .map((segment) => {
      const match = /^\{(\w+)\}$/.exec(segment);
      if (!match) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(match[1] ?? '');
      return '([^/]+)';
    })
    .join('/');
  return { template, pattern: new RegExp(`^${source}$`), names, methods };
}

/** Finds the route of a path; path parameters are percent-decoded (undefined when that fails). */
export function matchRoute(routes: readonly Route[], pathname: string): { route: Route; params: Record<string, string> } | undefined {
  for (const candidate of routes) {
    const match = candidate.pattern.exec(pathname);
    if (!match) continue;
    const params: Record<string, string> = {};
    try {
      candidate.names.forEach((name, i) => {
        params[name] = decodeURIComponent(match[i + 1] ?? '');
      });
    } catch {
      return undefined;
    }
    return { route: candidate, params };
  }
  return undefined;
}

import { expect } from 'vitest';
import type { Sandbox } from '../../src/index.js';
import { responseProblems, type CapturedResponse } from './spec.js';

// Plain-fetch helpers for talking to a sandbox in tests (no code shared with the client package).

/** A fixed "now" so dates in assertions do not depend on the day the tests run. */
export const FIXED_NOW = Date.UTC(2025, 0, 31, 15, 30);

async function capture(response: Response): Promise<CapturedResponse> {
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

/** Fetches, then asserts the response matches the spec operation `method path`. */
export async function call(path: string, method: string, url: string, init: RequestInit = {}): Promise<CapturedResponse> {
  const response = await capture(await fetch(url, { ...init, method }));
  expect(responseProblems(path, method, response), `${method} ${url} → ${response.status} ${response.text.slice(0, 200)}`).toEqual([]);
  return response;
}

export function logsUrl(sandbox: Sandbox, query: Record<string, string>): string {
  const url = new URL(`/api/v2/${sandbox.credentials.orgId}/logs`, sandbox.url);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.toString();
}

export interface Page {
  text: string;
  cases: Array<Record<string, unknown>>;
  next: string | undefined;
}

export async function getLogsPage(sandbox: Sandbox, url: string): Promise<Page> {
  const response = await call('/api/v2/{orgId}/logs', 'GET', url, { headers: { authorization: sandbox.credentials.apiToken } });
  expect(response.status).toBe(200);
  const body = JSON.parse(response.text) as { cases: Array<Record<string, unknown>>; linkToNextSetOfResults?: string };
  return { text: response.text, cases: body.cases, next: body.linkToNextSetOfResults };
}

/** Follows linkToNextSetOfResults to the end (bounded) and returns every page. */
export async function allPages(sandbox: Sandbox, query: Record<string, string>, maxPages = 1000): Promise<Page[]> {
  const pages: Page[] = [];
  let url: string | undefined = logsUrl(sandbox, query);
  while (url !== undefined) {
    if (pages.length >= maxPages) throw new Error(`more than ${maxPages} pages`);
    const page = await getLogsPage(sandbox, url);
    pages.push(page);
    url = page.next;
  }
  return pages;
}

/** The truth endpoint's lines (raw JSON text of each record). */
export async function truthLines(sandbox: Sandbox, query: Record<string, string> = {}): Promise<string[]> {
  const url = new URL('/__sandbox/truth', sandbox.url);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const text = await response.text();
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

export async function postAdmin(sandbox: Sandbox, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(new URL(path, sandbox.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

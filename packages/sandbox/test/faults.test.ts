import { describe, expect, it } from 'vitest';
import { SandboxOptionError, startSandbox, type Sandbox } from '../src/index.js';
import { FaultPlan, fateOf, parseFaultSpec } from '../src/faults.js';
import { FIXED_NOW, postAdmin } from './helpers/sandbox.js';
import { responseProblems } from './helpers/spec.js';

// Faults: the spec string is validated, faults occur at about the configured rates, the sequence is
// reproducible for a seed, and the admin API is never faulted.

type Observed = 'ok' | '429' | '500' | 'reset' | 'truncate' | `status ${number}`;

/** One availability request, classified from the client's point of view. */
async function observe(sandbox: Sandbox): Promise<Observed> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${sandbox.url}/api/v1/chat/${sandbox.credentials.widgetIds[0]}`, { headers: { 'x-api-key': sandbox.credentials.apiKey } });
    text = await response.text();
  } catch {
    return 'reset';
  }
  if (response.status === 429) {
    expect(response.headers.get('retry-after')).toBe('1');
    expect(responseProblems('/api/v1/chat/{widgetId}', 'GET', { status: 429, contentType: response.headers.get('content-type'), text })).toEqual([]);
    return '429';
  }
  if (response.status === 500) {
    expect(responseProblems('/api/v1/chat/{widgetId}', 'GET', { status: 500, contentType: response.headers.get('content-type'), text })).toEqual([]);
    return '500';
  }
  if (response.status !== 200) return `status ${response.status}`;
  try {
    JSON.parse(text);
  } catch {
    expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    return 'truncate';
  }
  return 'ok';
}

async function observeMany(sandbox: Sandbox, count: number): Promise<Observed[]> {
  const out: Observed[] = [];
  for (let i = 0; i < count; i++) out.push(await observe(sandbox));
  return out;
}

const SPEC = '429=0.1,500=0.05,reset=0.02,truncate=0.02,slow=0.01,slowMs=5';

describe('fault spec', () => {
  it('parses every key', () => {
    expect(parseFaultSpec(`${SPEC},rps=20`)).toEqual({ '429': 0.1, '500': 0.05, reset: 0.02, truncate: 0.02, slow: 0.01, rps: 20, slowMs: 5, retryAfter: 1, latencyMs: 0, jitterMs: 0, bodyKBps: 0 });
    expect(parseFaultSpec('latencyMs=100,jitterMs=50,bodyKBps=0.5')).toMatchObject({ latencyMs: 100, jitterMs: 50, bodyKBps: 0.5 });
    expect(parseFaultSpec('')).toMatchObject({ '429': 0, rps: 0, retryAfter: 1 });
    expect(parseFaultSpec('retryAfter=none')).toMatchObject({ retryAfter: -1 });
    expect(parseFaultSpec('retryAfter=15')).toMatchObject({ retryAfter: 15 });
  });

  it.each([
    ['teapot=0.1', 'unknown key "teapot"'],
    ['429=abc', 'not a number'],
    ['429=1.5', 'between 0 and 1'],
    ['429', 'not key=value'],
    ['429=0.1,429=0.2', 'given twice'],
    ['rps=-1', 'rps=-1'],
    ['slowMs=1.5', 'slowMs'],
    ['latencyMs=-5', 'latencyMs=-5 must be an integer'],
    ['jitterMs=70000', 'jitterMs=70000 must be an integer between 0 and 60000'],
    ['bodyKBps=-1', 'bodyKBps=-1 must be 0'],
    ['retryAfter=1.5', 'retryAfter=1.5 must be none or whole seconds'],
    ['retryAfter=-1', 'retryAfter=-1 must be none'],
    ['429=0.6,500=0.6', 'add up to'],
    ['429=0.7,500=0.2,reset=0.2', 'the probabilities add up to 1.1, more than 1'],
    ['rps=0.5', 'rps=0.5 must be 0 (no limit) or a whole number of requests per second'],
    ['rps=2.5', 'rps=2.5 must be 0 (no limit) or a whole number'],
    ['429=0x1', '429=0x1 is not a number'],
    ['rps=0b11', 'rps=0b11 is not a number'],
    ['429=0.1\n500=x', '"429=0.1\\n500=x" is not key=value'],
  ])('refuses %s', (text, message) => {
    expect(() => parseFaultSpec(text)).toThrow(message);
    // One line, as the CLI's error is.
    expect(() => parseFaultSpec(text)).toThrow(/^[^\n]*$/);
  });

  it('admits exactly rps requests per clock second, and a rejected request consumes no fate', () => {
    // A limit that lets rps+1 through would hide a loader whose own limiter bursts one request too many.
    const spec = parseFaultSpec('rps=3,500=0.5');
    const plan = new FaultPlan(spec, 9);
    const second = (start: number) => [0, 100, 200, 300, 999].map((offset) => plan.next(start + offset));
    const first = second(5000);
    const next = second(6000);
    expect(first.slice(3)).toEqual(['rps', 'rps']);
    expect(next.slice(3)).toEqual(['rps', 'rps']);
    // Six admitted requests took fates 0..5 in order, whatever was refused between them.
    expect([...first.slice(0, 3), ...next.slice(0, 3)]).toEqual([0, 1, 2, 3, 4, 5].map((n) => fateOf(spec, 9, n)));
  });

  it('makes startSandbox reject with a SandboxOptionError', async () => {
    await expect(startSandbox({ faults: 'oops=1' })).rejects.toBeInstanceOf(SandboxOptionError);
  });
});

describe('faults at run time', () => {
  it('occur at about the configured rates and replay identically for the same seed', async () => {
    const [a, b, c] = await Promise.all([
      startSandbox({ seed: 9, cases: 10, faults: SPEC, now: FIXED_NOW }),
      startSandbox({ seed: 9, cases: 10, faults: SPEC, now: FIXED_NOW }),
      startSandbox({ seed: 10, cases: 10, faults: SPEC, now: FIXED_NOW }),
    ]);
    try {
      const runA = await observeMany(a, 2000);
      const tally = (kind: Observed): number => runA.filter((o) => o === kind).length;
      // Expected 200 / 100 / 40 / 40 of 2000; the bounds are about ±4 standard deviations.
      expect(tally('429')).toBeGreaterThan(150);
      expect(tally('429')).toBeLessThan(250);
      expect(tally('500')).toBeGreaterThan(60);
      expect(tally('500')).toBeLessThan(140);
      expect(tally('reset')).toBeGreaterThan(15);
      expect(tally('reset')).toBeLessThan(65);
      expect(tally('truncate')).toBeGreaterThan(15);
      expect(tally('truncate')).toBeLessThan(65);
      expect(runA.filter((o) => o.startsWith('status'))).toEqual([]);
      const stats = await (await fetch(`${a.url}/__sandbox/stats`)).json();
      expect(stats.faults.slow).toBeGreaterThan(5);
      expect(stats.faults['429']).toBe(tally('429'));

      expect(await observeMany(b, 300)).toEqual(runA.slice(0, 300));
      expect(await observeMany(c, 300)).not.toEqual(runA.slice(0, 300));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('restart the sequence when the spec is replaced, and never touch the admin API', async () => {
    const sandbox = await startSandbox({ seed: 9, cases: 10, now: FIXED_NOW });
    try {
      expect(await observeMany(sandbox, 20)).toEqual(Array(20).fill('ok'));
      expect((await postAdmin(sandbox, '/__sandbox/faults', { faults: '500=1' })).status).toBe(200);
      expect(await observeMany(sandbox, 5)).toEqual(Array(5).fill('500'));
      expect((await fetch(`${sandbox.url}/__sandbox/truth`)).status).toBe(200);
      expect((await fetch(`${sandbox.url}/__sandbox/stats`)).status).toBe(200);
      await postAdmin(sandbox, '/__sandbox/faults', { faults: SPEC });
      const first = await observeMany(sandbox, 100);
      await postAdmin(sandbox, '/__sandbox/faults', { faults: SPEC });
      expect(await observeMany(sandbox, 100)).toEqual(first);
    } finally {
      await sandbox.close();
    }
  });

  it('limits requests per second with 429 and Retry-After', async () => {
    const sandbox = await startSandbox({ seed: 9, cases: 10, faults: 'rps=2', now: FIXED_NOW });
    try {
      // 50 sequential requests cannot all fit in a 2-per-second budget unless they take 25 s.
      const observed = await observeMany(sandbox, 50);
      expect(observed.filter((o) => o === '429').length).toBeGreaterThan(0);
      expect(observed.filter((o) => o === 'ok').length).toBeGreaterThan(0);
      const stats = await (await fetch(`${sandbox.url}/__sandbox/stats`)).json();
      expect(stats.faults.rps).toBe(observed.filter((o) => o === '429').length);
    } finally {
      await sandbox.close();
    }
  });

  it('sends Retry-After: 1 with a 429 by default, the configured seconds, or none at all (retryAfter=none)', async () => {
    const sandbox = await startSandbox({ seed: 9, cases: 10, faults: '429=1', now: FIXED_NOW });
    try {
      const retryAfter = async (): Promise<[number, string | null]> => {
        const response = await fetch(`${sandbox.url}/api/v1/chat/${sandbox.credentials.widgetIds[0]}`, { headers: { 'x-api-key': sandbox.credentials.apiKey } });
        await response.text();
        return [response.status, response.headers.get('retry-after')];
      };
      expect(await retryAfter()).toEqual([429, '1']);
      await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults: '429=1,retryAfter=none' }) });
      expect(await retryAfter()).toEqual([429, null]);
      await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults: 'rps=1,retryAfter=15' }) });
      const both = [await retryAfter(), await retryAfter(), await retryAfter()];
      expect(both).toContainEqual([429, '15']);
    } finally {
      await sandbox.close();
    }
  });
});

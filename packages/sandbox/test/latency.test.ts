import { describe, expect, it } from 'vitest';
import { FaultPlan, parseFaultSpec } from '../src/faults.js';
import { startSandbox } from '../src/index.js';
import { FIXED_NOW, logsUrl } from './helpers/sandbox.js';

// Network conditions of the real API over loopback: a round trip before the headers (latencyMs, jitterMs), a slow
// link for the body (bodyKBps), and a count of TCP connections to see whether a client reuses them. Only lower
// bounds on time: a busy machine makes things slower, never faster.

describe('latency', () => {
  it('delays every API answer by latencyMs plus a seeded share of jitterMs', () => {
    const delays = (seed: number) => {
      const plan = new FaultPlan(parseFaultSpec('latencyMs=100,jitterMs=50'), seed);
      return Array.from({ length: 200 }, () => plan.nextLatency());
    };
    const a = delays(1);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...a)).toBeLessThanOrEqual(150);
    expect(new Set(a).size).toBeGreaterThan(20);
    expect(delays(1)).toEqual(a);
    expect(delays(2)).not.toEqual(a);
    expect(new FaultPlan(parseFaultSpec('500=0.1'), 1).nextLatency()).toBe(0);
  });

  it('holds the headers back, 429s included, and never the admin API', async () => {
    const sandbox = await startSandbox({ seed: 3, cases: 10, faults: 'latencyMs=150,429=1', now: FIXED_NOW });
    try {
      const started = performance.now();
      const response = await fetch(`${sandbox.url}/api/v1/chat/${sandbox.credentials.widgetIds[0]}`, { headers: { 'x-api-key': sandbox.credentials.apiKey } });
      expect(performance.now() - started).toBeGreaterThanOrEqual(145);
      expect(response.status).toBe(429);
      await response.text();
      const stats = await (await fetch(`${sandbox.url}/__sandbox/stats`)).json();
      expect(stats.faults).toEqual({ '429': 1 });
    } finally {
      await sandbox.close();
    }
  });

  it('sends a body at bodyKBps in pieces, whole, and counts the connections a keep-alive client opens', async () => {
    const sandbox = await startSandbox({ seed: 3, cases: 400, widgets: 1, days: 2, faults: 'bodyKBps=100', now: FIXED_NOW });
    try {
      const started = performance.now();
      const response = await fetch(logsUrl(sandbox, { widgetId: sandbox.credentials.widgetIds[0]!, start: '2025-01-30', end: '2025-01-31' }), { headers: { authorization: sandbox.credentials.apiToken } });
      const reader = response.body!.getReader();
      const chunks: Uint8Array[] = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      const bytes = Buffer.concat(chunks);
      expect(bytes.length).toBe(Number(response.headers.get('content-length')));
      expect(JSON.parse(bytes.toString('utf8')).cases.length).toBe(100);
      // 10 pieces a second of 10 KiB: n pieces take (n - 1) ticks.
      const pieces = Math.ceil(bytes.length / 10_240);
      expect(pieces).toBeGreaterThan(3);
      expect(chunks.length).toBeGreaterThan(1);
      expect(performance.now() - started).toBeGreaterThanOrEqual((pieces - 1) * 100 - 5);
      for (let i = 0; i < 19; i++) await (await fetch(`${sandbox.url}/public/api/v2/chat/${sandbox.credentials.widgetIds[0]}`)).text();
      const stats = await (await fetch(`${sandbox.url}/__sandbox/stats`)).json();
      expect(stats.requests).toBe(20);
      // Node's fetch keeps connections open between requests: 21 requests, one after the other, over one or two (a
      // request sent just as the last body was read may find its connection not yet free, and open another).
      expect(stats.connections).toBeGreaterThanOrEqual(1);
      expect(stats.connections).toBeLessThanOrEqual(2);
      await fetch(`${sandbox.url}/__sandbox/reset`, { method: 'POST' });
      expect((await (await fetch(`${sandbox.url}/__sandbox/stats`)).json()).connections).toBe(0);
    } finally {
      await sandbox.close();
    }
  });
});

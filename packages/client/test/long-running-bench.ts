// The client as a long-running app uses it: one client made at start-up with a shutdown signal, every call given the
// same long-lived per-call signal too, batches of concurrent calls, HTTP errors, retried faults, and iteratePages /
// iterateLogs loops left with `break` after their first page. Prints, every --every calls, the heap after a full GC,
// the abort listeners on both signals (no GC needed for them to go), MaxListenersExceededWarnings so far, and the
// process's active handles; at the end it checks that the process exits by
// itself (a watchdog, unref'd, names what still runs after 10 s and exits 1). Figures: LONG-RUNNING.md.
//
//   npm run build -w snapengage-sandbox -w snapengage-client
//   node --expose-gc --import tsx packages/client/test/long-running-bench.ts [--calls 50000] [--every 10000] [--concurrency 20]

import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createSnapEngageClient, isSnapEngageError } from '../src/index.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '50000' },
    every: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '20' },
  },
});
const CALLS = Number(values.calls);
const EVERY = Number(values.every);
const CONCURRENCY = Number(values.concurrency);
for (const [name, value] of [['--calls', CALLS], ['--every', EVERY], ['--concurrency', CONCURRENCY]] as const) {
  if (!Number.isInteger(value) || value < 1 || value > 10_000_000) throw new Error(`${name} must be an integer from 1 to 10000000`);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx (the heap is measured after a full GC)');

// The sandbox in its own process, so its memory is not counted in this heap.
const SANDBOX_CLI = fileURLToPath(new URL('../../sandbox/dist/cli.js', import.meta.url));
const sandbox = spawn(process.execPath, [SANDBOX_CLI, '--port', '0', '--cases', '500', '--widgets', '1', '--days', '5', '--faults', '500=0.01,reset=0.002'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const env: Record<string, string> = {};
for await (const line of createInterface({ input: sandbox.stdout })) {
  const [key, ...rest] = line.split('=');
  if (key) env[key] = rest.join('=');
  if (key === 'SNAPENGAGE_START_DATE') break;
}

const shutdown = new AbortController();
const perCall = new AbortController();
const client = createSnapEngageClient({
  baseUrl: env.SNAPENGAGE_BASE_URL,
  apiToken: env.SNAPENGAGE_API_TOKEN,
  apiKey: env.SNAPENGAGE_API_KEY,
  signal: shutdown.signal,
  retryBaseDelayMs: 1,
  logger: { request: () => undefined, warn: () => undefined },
});
const orgId = env.SNAPENGAGE_ORG_ID as string;
const widgetId = (env.SNAPENGAGE_WIDGET_ID as string).split(',')[0] as string;
const signal = perCall.signal;

/** One call of the mix; i picks which. Errors the app would handle (404, a fault left after retries) are counted. */
async function call(i: number): Promise<void> {
  if (i % 100 === 0) {
    const params = { path: { orgId }, query: { widgetId, start: env.SNAPENGAGE_START_DATE as string, end: '2100-01-01' } };
    for await (const page of client.iteratePages('/api/v2/{orgId}/logs', { params, signal })) if (page.pageIndex === 0) break;
  } else if (i % 100 === 50) {
    for await (const _ of client.iterateLogs({ orgId, widgetId, start: env.SNAPENGAGE_START_DATE as string, end: '2100-01-01', signal })) break;
  } else if (i % 10 === 0) {
    await client.GET('/api/v1/chat/poll/{caseId}', { params: { path: { caseId: 'no-such-case' } }, signal }); // 404
  } else {
    await client.GET('/public/api/v2/chat/{widgetId}', { params: { path: { widgetId } }, signal });
  }
}

const counts = { ok: 0, failed: 0, maxListenerWarnings: 0 };
process.on('warning', (warning) => {
  if (warning.name === 'MaxListenersExceededWarning') counts.maxListenerWarnings++;
});
const start = Date.now();
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
function report(done: number): void {
  gc?.();
  const handles = process.getActiveResourcesInfo().reduce<Record<string, number>>((acc, name) => ({ ...acc, [name]: (acc[name] ?? 0) + 1 }), {});
  const { heapUsed, rss } = process.memoryUsage();
  console.log(
    `${String(done).padStart(8)} calls  heap ${mb(heapUsed)} MB  rss ${mb(rss)} MB  listeners shutdown ${getEventListeners(shutdown.signal, 'abort').length} ` +
      `per-call ${getEventListeners(signal, 'abort').length}  MaxListenersExceededWarnings ${counts.maxListenerWarnings}  handles ${JSON.stringify(handles)}  ${((Date.now() - start) / 1000).toFixed(1)} s`,
  );
}

report(0);
for (let done = 0; done < CALLS; ) {
  const batch = Math.min(CONCURRENCY, CALLS - done);
  await Promise.all(
    Array.from({ length: batch }, (_, k) =>
      call(done + k).then(
        () => counts.ok++,
        (error: unknown) => {
          if (!isSnapEngageError(error)) throw error;
          counts.failed++;
        },
      ),
    ),
  );
  const before = done;
  done += batch;
  if (Math.floor(done / EVERY) > Math.floor(before / EVERY)) {
    report(done);
  }
}
console.log(`${counts.ok} calls ok, ${counts.failed} failed after retries (the sandbox's faults); ${counts.maxListenerWarnings} MaxListenersExceededWarnings`);
sandbox.kill();
// The process must now exit by itself: nothing of the client may keep it running.
setTimeout(() => {
  console.error(`still running 10 s after the last call: ${process.getActiveResourcesInfo().join(', ')}`);
  process.exit(1);
}, 10_000).unref();

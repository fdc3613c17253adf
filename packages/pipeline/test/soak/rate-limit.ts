// The rate limiter against the sandbox's faults, outside the test suite: `npx tsx --conditions snapengage-source
// test/soak/rate-limit.ts <faults> <requestsPerSecond> [capSeconds=150] [cases=400] [seed=7] [maxRetries=4, the loader's default]`, e.g. `429=0.1 0` (10 %
// random 429s, no configured limit) or `rps=20 200` (an API that allows 20 requests a second). Loads logs and
// chat_poll (about one request per case) and prints one JSON line: requests sent, 429s, wall time, notes.rateLimit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from 'snapengage-sandbox';
import { runPipeline } from '../../src/index.js';

const [faults = '429=0.1', rpsText = '0', capText = '150', casesText = '400', seedText = '7', retriesText = '4'] = process.argv.slice(2);
const box = await startSandbox({ port: 0, seed: Number(seedText), cases: Number(casesText), widgets: 2, days: 5, faults });
const dir = mkdtempSync(join(tmpdir(), 'rate-limit-'));
let sent = 0;
let throttled = 0;
const fetch = async (request: Request): Promise<Response> => {
  sent++;
  const response = await globalThis.fetch(request);
  if (response.status === 429) throttled++;
  return response;
};
const abort = new AbortController();
const timer = setTimeout(() => abort.abort(new Error(`capped at ${capText} s`)), Number(capText) * 1000);
const start = performance.now();
let outcome = 'ok';
let report: unknown;
try {
  const info = await runPipeline(
    { resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: Number(rpsText) }, connection: { maxRetries: Number(retriesText) } },
    { env: box.env, destination: { path: join(dir, 'rate-limit.duckdb') }, fetch, signal: abort.signal },
  );
  report = info.notes.rateLimit;
} catch (error) {
  outcome = `failed: ${(error as Error).message.split('\n')[0]}`;
}
clearTimeout(timer);
const secs = (performance.now() - start) / 1000;
console.log(JSON.stringify({ faults, rps: Number(rpsText), outcome, sent, throttled, secs: Number(secs.toFixed(1)), report }));
await box.close();
rmSync(dir, { recursive: true, force: true });

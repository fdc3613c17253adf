// Notes for runs against a local server (the sandbox) under the default rate limit, which is sized for the real API:
// without them a big local run is just slow, with nothing saying why.
import type { PipelineConfig } from './config.js';
import type { ResourceStats } from './load-info.js';
import { isLoopbackUrl } from './loopback.js';
import type { Plan } from './plan.js';

/** Below this much pacing a run's note would be noise: the demo's 55 requests take ~5 s. */
const NOTEWORTHY_PACING_SECONDS = 20;

function defaultRateAgainstLocalServer(config: PipelineConfig, plan: Plan): boolean {
  return config.rateLimit === undefined && plan.requestsPerSecond > 0 && isLoopbackUrl(plan.connection.baseUrl);
}

function atMost(plan: Plan): string {
  return `at most ${plan.requestsPerSecond} requests/s (the default rateLimit, polite to the real API) also against the local server ${new URL(plan.connection.baseUrl).origin}`;
}

/** What to change; `configFile` null: the run uses no config (only --resources), so there is none to edit. */
function fasterThere(plan: Plan, configFile: string | null | undefined): string {
  const selected = plan.resources.filter((r) => r.load).map((r) => `${r.name}: true`).join(', ');
  const fix = configFile === null
    ? `write a pipeline config src/pipeline.ts (read by default): export default { resources: { ${selected} }, rateLimit: { requestsPerSecond: 0 } }`
    : `set rateLimit: { requestsPerSecond: 0 } in the pipeline config${configFile ? ` (${configFile})` : ''}`;
  return `to go faster there, ${fix}`;
}

/**
 * Said before the run: a resource that makes one request per parent record (5,000 cases of `chat_poll` take over
 * 8 minutes at 10 requests/s). Undefined when the config sets a rate limit, the server is not local, or no such
 * resource runs.
 */
export function localRateLimitNote(config: PipelineConfig, plan: Plan, configFile?: string | null): string | undefined {
  if (!defaultRateAgainstLocalServer(config, plan)) return undefined;
  const perRecord = plan.resources.filter((r) => r.resource.parent !== null);
  if (perRecord.length === 0) return undefined;
  const what = perRecord.map((r) => `${r.name} makes one request per record of ${r.resource.parent}`).join(' and ');
  return `${what}, ${atMost(plan)}; ${fasterThere(plan, configFile)}`;
}

/**
 * Said after a run the note before it did not cover (parents alone, such as `logs` of a big sandbox: 2,000 pages are
 * over 3 minutes at 10 requests/s) when the rate limit alone made it last at least NOTEWORTHY_PACING_SECONDS.
 */
export function localRateLimitAfterNote(config: PipelineConfig, plan: Plan, stats: readonly ResourceStats[], configFile?: string | null): string | undefined {
  if (localRateLimitNote(config, plan, configFile) !== undefined || !defaultRateAgainstLocalServer(config, plan)) return undefined;
  const requests = stats.reduce((sum, r) => sum + r.requests, 0);
  const seconds = requests / plan.requestsPerSecond;
  if (seconds < NOTEWORTHY_PACING_SECONDS) return undefined;
  return `this run made ${requests.toLocaleString('en-US')} requests, ${atMost(plan)}, so it took at least ${Math.round(seconds)} s; ${fasterThere(plan, configFile)}`;
}

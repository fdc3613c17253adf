// Which SnapEngage organisation a dataset holds. Nothing in the loaded rows says which org a case, widget or user came
// from, and the keys do not either (users merge on `email`: an agent of two orgs is one row), so a run of another org
// into the same dataset (an agency that forgot --dataset, SNAPENGAGE_ORG_ID changed in .env, a sandbox trial into the
// real file) mixed two customers' data in the same tables, silently and for good. Each load row records the run's org
// id (`_pipeline_loads.org_id`), and a run of another org is refused before it writes anything.
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';
import { cliName } from './cli-name.js';
import { DestinationError } from './errors.js';
import { loadsHaveColumn } from './system-tables.js';

/** The run's organisation: its id and the variable it came from (the spec's `organisation: true` parameter). */
export interface RunOrg {
  id: string;
  env: string;
}

/**
 * The variable that names the organisation of a run's requests: an env parameter the spec marks `organisation: true`
 * (the Logs API's `{orgId}`), of any resource the run reads. None when no request sends it: the Provisioning API
 * (widgets, users) never does, so a run of those alone, with a stale or mistyped org id, neither marks the dataset with
 * that org nor is refused by it.
 */
export function organisationEnv(resources: ReadonlyArray<{ params: Readonly<Record<string, { from: string; env?: string; organisation?: boolean }>> }>): string | undefined {
  for (const r of resources) {
    for (const source of Object.values(r.params)) if (source.from === 'env' && source.organisation === true && source.env !== undefined) return source.env;
  }
  return undefined;
}

/** At most this many other orgs are named in the refusal. */
const NAMED_ORGS = 3;

/**
 * Refuses a dataset whose committed loads came from another org than `org.id` (compared case-insensitively: a UUID
 * typed in capitals is the same org). Loads without an org id (a run without SNAPENGAGE_ORG_ID, or a loader before
 * this check) say nothing either way. Run before the loader's system tables are set up, so that a refused file is
 * left exactly as it was.
 */
export async function refuseOtherOrg(conn: DuckDBConnection, dataset: string, dbPath: string, org: RunOrg | undefined): Promise<void> {
  if (org === undefined) return;
  const orgId = org.id;
  if (!(await loadsHaveColumn(conn, dataset, 'org_id'))) return;
  const others = (await conn.runAndReadAll(
    `SELECT org_id, count(DISTINCT load_id)::INTEGER AS runs, max(finished_at)::VARCHAR AS last_finished
     FROM ${quoteIdent(dataset)}."_pipeline_loads"
     WHERE status = 'loaded' AND org_id IS NOT NULL AND lower(org_id) <> lower($1)
     GROUP BY org_id ORDER BY max(finished_at) DESC, org_id`,
    [orgId],
  )).getRowObjectsJS();
  if (others.length === 0) return;
  const named = others.slice(0, NAMED_ORGS).map((o) => `${String(o.org_id)} (${String(o.runs)} run${o.runs === 1 ? '' : 's'}, the last at ${String(o.last_finished).slice(0, 19)} UTC)`);
  const more = others.length > NAMED_ORGS ? ` and ${others.length - NAMED_ORGS} more` : '';
  throw new DestinationError(
    `opening the destination: dataset ${dataset} in ${dbPath} holds SnapEngage org ${named.join(', ')}${more}, and this run is for org ${orgId} (${org.env}): loading it there would mix two organisations' cases, widgets and users in the same tables (users of both merge on their email)`,
    'schema',
    `load each org into a dataset of its own, such as --dataset ${suggestedDataset(orgId)} (or destination.dataset), or a DuckDB file of its own (--duckdb); if ${org.env} is wrong, correct it; if the other org's data is not needed (a sandbox trial), drop it first (DROP SCHEMA ${await cliName(conn, dataset)} CASCADE in the DuckDB CLI). Nothing was written to the file`,
    dbPath,
  );
}

/** A dataset name for an org: its id's first 8 characters, reduced to what a bare SQL name may hold. */
function suggestedDataset(orgId: string): string {
  const part = orgId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8);
  return part === '' ? 'snapengage_other_org' : `snapengage_${part}`;
}

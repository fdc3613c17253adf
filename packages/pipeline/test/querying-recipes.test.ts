// QUERYING.md's recipes, run as written on a file loaded from the sandbox, in the DuckDB CLI's way (a session zone
// that is not UTC) and through openDataset, and checked against the sandbox's truth where the answer can be computed
// from the records the API served: a recipe that parses but answers something else fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import type { PipelineConfig } from '../src/config.js';
import { openDataset } from '../src/dataset.js';
import { runPipeline } from '../src/run.js';
import { PACKAGE_DIR, sandbox, tempDir, truth, withQueries } from './helpers.js';

type Rows = Array<Record<string, unknown>>;

/** The ```sql blocks of QUERYING.md, by their first line's comment. */
function recipes(): Map<string, string> {
  const text = readFileSync(join(PACKAGE_DIR, 'QUERYING.md'), 'utf8');
  const blocks = [...text.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return new Map(blocks.map((sql) => [/^-- (.*)$/m.exec(sql)?.[1] ?? '', sql]));
}

interface Transcript { id?: string; date_seconds?: number }
interface Case {
  id: string;
  type?: string;
  created_at_seconds?: number;
  chat_agent_id?: string | null;
  survey_score?: number | null;
  labels?: Array<{ name?: string; value?: string }> | null;
  transcripts?: Transcript[] | null;
}

/** A DuckDB timestamp text as ISO 8601: a TIMESTAMPTZ's offset (`-07`, `+05:30`) as `±HH:MM`, none as UTC. */
function instantText(v: string): string {
  if (v.endsWith('Z')) return v;
  const iso = v.replace(' ', 'T');
  const offset = /([+-]\d\d)(?::?(\d\d))?$/.exec(iso.slice(19));
  return offset ? `${iso.slice(0, iso.length - offset[0].length)}${offset[1]}:${offset[2] ?? '00'}` : `${iso}Z`;
}

/** Values as one form: the CLI's JSON gives BIGINTs as text and timestamps as DuckDB's text, the dataset API numbers and ISO text. */
function plain(rows: Rows): Rows {
  const value = (v: unknown): unknown =>
    typeof v !== 'string' ? v
    : /^-?\d+(\.\d+)?$/.test(v) ? Number(v)
    : /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d/.test(v) ? new Date(instantText(v)).toISOString()
    : v;
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, value(v)])));
}

const RECIPES = [
  'cases per local day, widget and type',
  'share of offline cases',
  'wait and duration of chats, in seconds',
  'first agent reply, seconds after the case was created',
  'survey score per agent and week',
  'transcript lines per chat and messages per agent',
  'busiest local hours',
  'label counts',
  'operator variables as columns',
  'cases by visitor email',
  'widget availability per load',
];

describe('QUERYING.md recipes', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  let cases: Case[];
  let widgets: string[];
  let cli: Record<string, Rows>;

  beforeAll(async () => {
    box = await sandbox({ cases: 400, widgets: 2, days: 12, seed: 31 });
    tmp = tempDir('querying-');
    db = join(tmp.dir, 'snapengage.duckdb');
    widgets = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    // As the doc says for a history of availability: append, two scheduled runs.
    const config: PipelineConfig = {
      resources: { logs: true, widgets: true, chat_availability: { writeDisposition: 'append' } },
      rateLimit: { requestsPerSecond: 0 },
    };
    await runPipeline(config, { env: box.env, destination: { path: db } });
    await runPipeline({ ...config, resources: { chat_availability: { writeDisposition: 'append' } } }, { env: box.env, destination: { path: db } });
    cases = (await truth(box)) as unknown as Case[];
    // The DuckDB CLI's session takes the machine's zone: the recipes must not depend on it.
    cli = await withQueries(db, async (run) => {
      await run(`SET TimeZone = 'Pacific/Kiritimati'`);
      const out: Record<string, Rows> = {};
      for (const [name, sql] of recipes()) out[name] = await run(sql);
      return out;
    });
  }, 60_000);
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('the doc has its recipes, each named by its first line', () => {
    expect([...recipes().keys()]).toEqual(RECIPES);
  });

  it('openDataset gives the same rows as the CLI in another zone', async () => {
    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    try {
      for (const [name, sql] of recipes()) expect({ name, rows: plain(await ds.sql(sql)) }).toEqual({ name, rows: plain(cli[name]!) });
    } finally {
      await ds.close();
    }
  });

  it('a local time from AT TIME ZONE comes back through openDataset with a Z, as the doc warns; strftime keeps it local', async () => {
    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    try {
      expect(await ds.sql(`SELECT to_timestamp(0) AT TIME ZONE 'Europe/Berlin' AS t, strftime(to_timestamp(0) AT TIME ZONE 'Europe/Berlin', '%H:%M') AS s`)).toEqual([
        { t: '1970-01-01T01:00:00.000Z', s: '01:00' },
      ]);
    } finally {
      await ds.close();
    }
    expect(readFileSync(join(PACKAGE_DIR, 'QUERYING.md'), 'utf8')).toContain('`1970-01-01T01:00:00.000Z` for Berlin');
  });

  it('cases per local day and widget, and the offline share, count every case the API served', () => {
    const perDay = cli['cases per local day, widget and type']!;
    expect(perDay.reduce((sum, r) => sum + Number(r.cases), 0)).toBe(cases.length);
    const offline = cases.filter((c) => c.type === 'offline').length;
    expect(cli['share of offline cases']).toEqual([{ cases: String(cases.length), offline: String(offline), offline_pct: Math.round((1000 * offline) / cases.length) / 10 }]);
    // Berlin days: a case at 23:30 UTC belongs to the next day there.
    const berlinDay = (s: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin' }).format(new Date(s * 1000));
    const expected = new Map<string, number>();
    // The widget of each case from the sandbox's per-widget truth (helpers.ts), its name from the widgets table.
    const keyOf = (c: Case) => `${berlinDay(c.created_at_seconds!)} ${String((c as unknown as { widget_id?: string }).widget_id)} ${c.type}`;
    for (const c of cases) expected.set(keyOf(c), (expected.get(keyOf(c)) ?? 0) + 1);
    expect(new Map(perDay.map((r) => [`${String(r.day)} ${String(r.widget_id)} ${String(r.type)}`, Number(r.cases)]))).toEqual(expected);
    expect(new Set(perDay.map((r) => r.widget_id))).toEqual(new Set(widgets));
    for (const row of perDay) expect(typeof row.widget === 'string' && row.widget !== '', `a name for widget ${String(row.widget_id)}`).toBe(true);
  });

  it('first agent reply and surveys per agent match the records', () => {
    const replies = cases.flatMap((c) => {
      const agent = (c.transcripts ?? []).filter((t) => t.id?.startsWith('wc:')).map((t) => t.date_seconds!);
      return agent.length > 0 ? [Math.min(...agent) - c.created_at_seconds!] : [];
    });
    expect(replies.length).toBeGreaterThan(0);
    expect(Number(cli['first agent reply, seconds after the case was created']![0]!.chats_answered)).toBe(replies.length);

    const surveys = cli['survey score per agent and week']!;
    const scored = cases.filter((c) => c.type === 'chat' && typeof c.survey_score === 'number');
    expect(scored.length).toBeGreaterThan(0);
    expect(surveys.reduce((sum, r) => sum + Number(r.surveys), 0)).toBe(scored.length);
    expect(surveys.reduce((sum, r) => sum + Number(r.chats), 0)).toBe(cases.filter((c) => c.type === 'chat').length);
    const agents = new Set(scored.map((c) => c.chat_agent_id));
    expect(new Set(surveys.filter((r) => Number(r.surveys) > 0).map((r) => r.chat_agent_id))).toEqual(agents);
  });

  it('label counts and transcript lines add up to the records', () => {
    const labels = cases.flatMap((c) => c.labels ?? []);
    expect(cli['label counts']!.reduce((sum, r) => sum + Number(r.cases), 0)).toBe(labels.length);
    const lines = cases.flatMap((c) => c.transcripts ?? []);
    expect(cli['transcript lines per chat and messages per agent']!.reduce((sum, r) => sum + Number(r.messages), 0)).toBe(lines.length);
  });

  it('operator variables become one column per name, one row per case that has any', () => {
    const rows = cli['operator variables as columns']!;
    expect(rows.length).toBe(cases.filter((c) => ((c as { operator_variables?: unknown[] }).operator_variables ?? []).length > 0).length);
    expect(Object.keys(rows[0]!)).toEqual(expect.arrayContaining(['id', 'order_id']));
  });

  it('availability loaded with append keeps one row per widget and run, with its load time', () => {
    const rows = cli['widget availability per load']!;
    expect(rows.map((r) => r.widget_id).sort()).toEqual([...widgets, ...widgets].sort());
    for (const widget of widgets) {
      const times = rows.filter((r) => r.widget_id === widget).map((r) => String(r.checked_at));
      expect(new Set(times).size).toBe(2);
    }
  });
});

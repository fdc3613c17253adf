// The spec's descriptions as DuckDB comments (src/destination/comments.ts): an analyst who opens the file reads what
// a column means in `duckdb_columns()`. Loaded from the sandbox into real DuckDB files; the texts are checked against
// the generated catalog, never copied from the spec by hand.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resources, type LoadableResource } from 'snapengage-client';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { shortDescription } from '../src/destination/comments.js';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { PACKAGE_DIR, admin, query, sandbox, tempDir, thingsResource, withQueries } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 30, widgets: 1, days: 3 });
  tmp = tempDir('comments-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const logs = (resources as unknown as Record<string, LoadableResource>).logs!;
const props = (logs.recordSchema.properties ?? {}) as Record<string, { description?: string; items?: { properties?: Record<string, { description?: string }> }; properties?: Record<string, { description?: string }> }>;
const load = (path: string) => runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path } });

async function comments(path: string): Promise<Record<string, string | null>> {
  const rows = await query(path, `
    SELECT table_name AS t, NULL AS c, comment FROM duckdb_tables() WHERE schema_name = 'snapengage_data'
    UNION ALL SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'snapengage_data'`);
  return Object.fromEntries(rows.map((r) => [r.c === null ? String(r.t) : `${String(r.t)}.${String(r.c)}`, r.comment === null ? null : String(r.comment)]));
}

describe('shortDescription', () => {
  it('keeps the first sentence and the provenance tag, collapses whitespace and cuts long text at a word', () => {
    expect(shortDescription('Case UUID. [doc]')).toBe('Case UUID. [doc]');
    expect(shortDescription('Details the visitor gave. Keys after `age…` are cut off. [doc partial]')).toBe('Details the visitor gave. [doc partial]');
    expect(shortDescription('Epoch ms despite the name [inferred from TAP, medium]. A date\nstring is not ruled out [open].')).toBe('Epoch ms despite the name [inferred from TAP, medium].');
    expect(shortDescription('Accept-Language style, e.g. `en-US`, i.e. 1.5 of the visitor\'s. More.')).toBe('Accept-Language style, e.g. `en-US`, i.e. 1.5 of the visitor\'s.');
    expect(shortDescription('  ')).toBeUndefined();
    expect(shortDescription('A\u0000b\u001bc. [doc]')).toBe('A b c. [doc]');
    const long = shortDescription(`${'word '.repeat(100)}[doc]`)!;
    expect(long.length).toBeLessThanOrEqual(240);
    expect(long).toMatch(/word… \[doc\]$/);
  });
});

describe('comments of a loaded file', () => {
  it('are the spec\'s descriptions for tables and columns, and fixed texts for the loader\'s own columns', async () => {
    const path = join(tmp.dir, 'fresh.duckdb');
    await load(path);
    const c = await comments(path);
    expect(c.logs).toBe(shortDescription(logs.description));
    expect(c['logs.id']).toBe(props.id!.description!.trim()); // "Case UUID. [doc]"
    expect(c['logs.created_at_date']).toBe(shortDescription(props.created_at_date!.description!));
    expect(c['logs.created_at_date']).toMatch(/^Epoch milliseconds .*\[inferred.*\]\.$/);
    // A flattened column: the nested property's description.
    expect(c['logs.requester_details__name']).toBe(shortDescription(props.requester_details!.properties!.name!.description!));
    // A child table: the list field's description; its columns the items' properties.
    expect(c.logs__transcripts).toBe(shortDescription(props.transcripts!.description!));
    expect(c['logs__transcripts.message']).toBe(shortDescription(props.transcripts!.items!.properties!.message!.description!));
    expect(c['logs.widget_id']).toBe('The widgetId request parameter the record was loaded with (added by the loader, not sent by the API).');
    expect(c['logs._load_id']).toBe('The load that last wrote the row (_pipeline_loads.load_id).');
    expect(c['logs__transcripts._parent_id']).toBe('The _row_id of the parent row (logs).');
    expect(c['logs__transcripts._list_idx']).toBe('Position of the item in its source list, from 0.');
    // Every column of the loader's tables says something; the system tables are the loader's business.
    const bare = Object.entries(c).filter(([k, v]) => !k.startsWith('_pipeline_') && v === null).map(([k]) => k);
    expect(bare).toEqual([]);
    // A text with quotes is stored as written (escaped in the SQL, not in the comment).
    expect(c['logs.requester_details__age']).toContain('"age');
    // QUERYING.md's query for them runs as written.
    const doc = /`(SELECT column_name, data_type, comment FROM duckdb_columns\(\)[^`]*)`/.exec(readFileSync(join(PACKAGE_DIR, 'QUERYING.md'), 'utf8'))![1]!;
    expect((await query(path, doc)).find((r) => r.column_name === 'id')?.comment).toBe(c['logs.id']);
  });

  it('are set on an existing file that has none, without rewriting a row, and a user\'s comment is kept', async () => {
    const path = join(tmp.dir, 'upgraded.duckdb');
    await load(path);
    // As a loader before comments left it: none at all; and one the user wrote since.
    await withQueries(path, async (run) => {
      for (const [key] of Object.entries(await comments(path))) {
        const [t, col] = key.split('.');
        await run(col === undefined ? `COMMENT ON TABLE snapengage_data."${t}" IS NULL` : `COMMENT ON COLUMN snapengage_data."${t}"."${col}" IS NULL`);
      }
      await run(`COMMENT ON COLUMN snapengage_data.logs.chat_duration IS 'ours: seconds, see the wiki''s page'`);
      return undefined;
    }, 'READ_WRITE');
    const before = await query(path, 'SELECT _row_id, _load_id FROM snapengage_data.logs ORDER BY _row_id');
    const info = await load(path);
    expect(info.rowCounts.logs ?? 0).toBe(0); // every record read again is unchanged
    expect(await query(path, 'SELECT _row_id, _load_id FROM snapengage_data.logs ORDER BY _row_id')).toEqual(before);
    const c = await comments(path);
    expect(c['logs.chat_duration']).toBe('ours: seconds, see the wiki\'s page');
    expect(c['logs.id']).toBe(props.id!.description!.trim());
    expect(c.logs__transcripts).toBe(shortDescription(props.transcripts!.description!));
  });

  it('name a field the spec does not declare and a variant column, from the load that adds them', async () => {
    const path = join(tmp.dir, 'evolved.duckdb');
    await load(path);
    const widgetId = box.env.SNAPENGAGE_WIDGET_ID!.split(',')[0]!;
    await admin(box, 'cases', { widgetId, cases: [{ brand_new_field: 42, chat_duration: 'about ten minutes', new_list: [{ a: 1 }] }] });
    await load(path);
    const c = await comments(path);
    expect(c['logs.brand_new_field']).toBe('Not declared in the spec: typed from its first value.');
    expect(c.logs__new_list).toBe('A list the spec does not declare: one row per item, columns typed from their first values.');
    expect(c['logs__new_list.a']).toBe('Not declared in the spec: typed from its first value.');
    expect(c['logs.chat_duration__v_text']).toBe('Values of chat_duration (BIGINT) that its type does not take, kept as VARCHAR.');
  });

  describe('after the spec\'s descriptions change', () => {
    // What `npm run generate` writes after a description is edited in the spec: the catalog's texts, restored after.
    const saved = { description: logs.description, recordSchema: logs.recordSchema };
    afterEach(() => Object.assign(logs, saved));
    const editSpec = (edits: { logs?: string; id?: string; name?: string; transcripts?: string; message?: string; chatDuration?: string }) => {
      const schema = structuredClone(saved.recordSchema) as typeof saved.recordSchema;
      const p = schema.properties as typeof props;
      if (edits.id) p.id!.description = edits.id;
      if (edits.name) p.requester_details!.properties!.name!.description = edits.name;
      if (edits.transcripts) p.transcripts!.description = edits.transcripts;
      if (edits.message) p.transcripts!.items!.properties!.message!.description = edits.message;
      if (edits.chatDuration) p.chat_duration!.description = edits.chatDuration;
      Object.assign(logs, { description: edits.logs ?? saved.description, recordSchema: schema });
    };

    it('the loader\'s comments follow them, and a comment the user set survives reruns and the change', async () => {
      const path = join(tmp.dir, 'spec-changed.duckdb');
      await load(path);
      await withQueries(path, async (run) => {
        await run(`COMMENT ON COLUMN snapengage_data.logs.chat_duration IS 'ours: seconds'`);
        await run(`COMMENT ON TABLE snapengage_data.logs__transcripts IS 'ours: the chat lines'`);
        return undefined;
      }, 'READ_WRITE');
      await load(path);
      let c = await comments(path);
      expect(c['logs.chat_duration']).toBe('ours: seconds');
      expect(c.logs__transcripts).toBe('ours: the chat lines');
      // The loader's record holds its own texts, not the user's.
      const recorded = await query(path, `SELECT table_name || coalesce('.' || column_name, '') AS k, comment FROM snapengage_data._pipeline_comments
        WHERE (table_name, coalesce(column_name, '')) IN (('logs', 'id'), ('logs', 'chat_duration'), ('logs__transcripts', '')) ORDER BY k`);
      expect(recorded).toEqual([{ k: 'logs.id', comment: props.id!.description!.trim() }]);

      editSpec({ logs: 'Cases, as edited. [doc]', id: 'Case id, edited. [doc]', message: 'Line text, edited. [doc]', transcripts: 'Chat lines, edited. [doc]', chatDuration: 'Length, edited. [doc]' });
      await load(path);
      c = await comments(path);
      expect(c.logs).toBe('Cases, as edited. [doc]');
      expect(c['logs.id']).toBe('Case id, edited. [doc]');
      expect(c['logs__transcripts.message']).toBe('Line text, edited. [doc]');
      // The user's stay, whatever the spec says now.
      expect(c['logs.chat_duration']).toBe('ours: seconds');
      expect(c.logs__transcripts).toBe('ours: the chat lines');
      // Unchanged texts stay as they were.
      expect(c['logs.requester_details__name']).toBe(shortDescription(props.requester_details!.properties!.name!.description!));

      // A comment the user changes after the loader wrote it is the user's from then on.
      await withQueries(path, (run) => run(`COMMENT ON COLUMN snapengage_data.logs.id IS 'ours: the case'`), 'READ_WRITE');
      editSpec({ id: 'Case id, edited again. [doc]' });
      await load(path);
      c = await comments(path);
      expect(c['logs.id']).toBe('ours: the case');
      expect(c.logs).toBe(shortDescription(saved.description)); // back to the spec's own text
    });

    it('of a file from before the loader recorded its comments: a text of the current spec is taken as the loader\'s, another is kept', async () => {
      const path = join(tmp.dir, 'spec-changed-old-file.duckdb');
      await load(path);
      // As a loader before the record of its comments left the file.
      await withQueries(path, (run) => run('DROP TABLE IF EXISTS snapengage_data._pipeline_comments'), 'READ_WRITE');
      editSpec({ id: 'Case id, edited. [doc]' });
      await load(path);
      let c = await comments(path);
      // The old text may be an older spec's or a user's: nothing proves it was the loader's.
      expect(c['logs.id']).toBe(props.id!.description!.trim());
      // Texts equal to what this spec says are the loader's: they follow the next change.
      editSpec({ id: 'Case id, edited. [doc]', name: 'Visitor name, edited. [doc]' });
      await load(path);
      c = await comments(path);
      expect(c['logs.requester_details__name']).toBe('Visitor name, edited. [doc]');
      expect(c['logs.id']).toBe(props.id!.description!.trim());
    });

    it('a text the loader wrote that the spec no longer gives is cleared, and the spec\'s next text is written', async () => {
      const path = join(tmp.dir, 'spec-dropped.duckdb');
      const widgetId = box.env.SNAPENGAGE_WIDGET_ID!.split(',')[0]!;
      await admin(box, 'cases', { widgetId, cases: [{ declared_later: 7 }] });
      await load(path);
      let c = await comments(path);
      expect(c['logs.id']).toBe(props.id!.description!.trim());
      expect(c['logs.declared_later']).toBe('Not declared in the spec: typed from its first value.');
      await withQueries(path, (run) => run(`COMMENT ON COLUMN snapengage_data.logs.chat_duration IS 'ours: seconds'`), 'READ_WRITE');
      // The spec drops id's description and declares the field, without one; the user's text stays whatever the spec says.
      const schema = structuredClone(saved.recordSchema) as typeof saved.recordSchema;
      const p = schema.properties as Record<string, Record<string, unknown>>;
      delete p.id!.description;
      delete p.chat_duration!.description;
      p.declared_later = { type: 'integer' };
      Object.assign(logs, { recordSchema: schema });
      await load(path);
      c = await comments(path);
      expect(c['logs.id']).toBeNull();
      expect(c['logs.declared_later']).toBeNull();
      expect(c['logs.chat_duration']).toBe('ours: seconds');
      // A description given again reaches the column (the old text did not become "the user's" meanwhile).
      p.id!.description = 'Case id, described again. [doc]';
      await load(path);
      c = await comments(path);
      expect(c['logs.id']).toBe('Case id, described again. [doc]');
      expect(c['logs.chat_duration']).toBe('ours: seconds');
    });
  });

  it('of a commit that fails are rolled back with its rows', async () => {
    const path = join(tmp.dir, 'failed.duckdb');
    const resource = { ...thingsResource, description: 'Things. [doc]', recordSchema: { ...thingsResource.recordSchema, properties: { id: { type: 'string', description: 'Thing id. [doc]' } } } };
    const commit = async (state: unknown, records: Array<Record<string, unknown>>) => {
      const dest = await DuckDBDestination.open({ path, dataset: 'snapengage_data', pipelineName: 'p' });
      try {
        const w = dest.createResourceWriter({ loadId: newLoadId(), resource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
        await w.write(records);
        await w.commit(state);
      } finally {
        await dest.close();
      }
    };
    await commit(null, [{ id: 'a' }]);
    await withQueries(path, (run) => run('COMMENT ON COLUMN snapengage_data.things.id IS NULL'), 'READ_WRITE');
    // The state is written after the comments and rows, in the same transaction: one that cannot be stored fails it.
    await expect(commit(10n, [{ id: 'b', extra: 1 }])).rejects.toThrow();
    const c = await comments(path);
    expect(c['things.id']).toBeNull();
    expect(c['things.extra']).toBeUndefined();
    expect(c.things).toBe('Things. [doc]');
    // The loader's record of its comments rolls back with them.
    expect(await query(path, `SELECT column_name FROM snapengage_data._pipeline_comments WHERE table_name = 'things' AND column_name IN ('id', 'extra')`)).toEqual([{ column_name: 'id' }]);
    await commit(null, [{ id: 'b' }]);
    expect((await comments(path))['things.id']).toBe('Thing id. [doc]');
  });
});

describe('comments of a run of some resources', () => {
  it('leave the comments of the resources it does not load as they are, and a rerun with the same spec rewrites no record', async () => {
    const path = join(tmp.dir, 'two-resources.duckdb');
    const run = (selected: Record<string, true>) => runPipeline(definePipeline({ resources: selected, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path } });
    await run({ logs: true, widgets: true });
    // Had the record of every resource been read as the one being committed's, each commit would clear the texts of
    // the others as "no longer given": widgets' already in this run.
    const widgetsBefore = Object.entries(await comments(path)).filter(([k]) => k.startsWith('widgets'));
    expect(widgetsBefore.filter(([, text]) => text !== null).length).toBeGreaterThan(1);
    const recordedBefore = await query(path, `SELECT table_name, column_name, comment, load_id FROM snapengage_data._pipeline_comments ORDER BY ALL`);
    await run({ logs: true });
    expect(Object.entries(await comments(path)).filter(([k]) => k.startsWith('widgets'))).toEqual(widgetsBefore);
    // The same texts: the record keeps the load that wrote them.
    expect(await query(path, `SELECT table_name, column_name, comment, load_id FROM snapengage_data._pipeline_comments ORDER BY ALL`)).toEqual(recordedBefore);
  });
});

// commitError (destination/changed-by-hand.ts) on its own, against a real DuckDB database that a user changed: which
// change it names as the cause when DuckDB's line points at exactly one, which changes it does not blame, and the
// SQL of a refused --refresh. The runs that reach it are in user-edits.test.ts and user-foreign-keys.test.ts; here
// DuckDB's lines are given, so that each rule is checked apart from what one load happens to break first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitError, type StoredTable } from '../src/destination/changed-by-hand.js';
import { createDuckDBInstance, type DuckDBConnection, type DuckDBInstance } from '../src/duckdb.js';
import type { ColumnDef, TableDef } from '../src/normalize/schema.js';

const column = (name: string, type: ColumnDef['type']): ColumnDef => ({ name, nodeKey: `d${JSON.stringify([name])}`, variant: null, type });
const logs: StoredTable = {
  isRoot: true,
  def: { name: 'logs', resource: 'logs', parent: null, nodeKey: null, columns: [column('id', 'text'), column('count', 'bigint'), column('tags', 'bigint[]'), column('note', 'text')] },
};
const labels: StoredTable = {
  isRoot: false,
  def: { name: 'logs__labels', resource: 'logs', parent: 'logs', nodeKey: 'd["labels"]', columns: [column('name', 'text')] } satisfies TableDef,
};

describe('commitError of a commit that a change made by hand broke', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  let n = 0;

  beforeAll(async () => {
    instance = await createDuckDBInstance(':memory:', { threads: '1' });
    conn = await instance.connect();
  });
  afterAll(() => {
    conn?.closeSync();
    instance?.closeSync();
  });

  /** A fresh schema holding the loader's two tables as `sql` (run with `ds` as the schema's name) left them. */
  async function dataset(sql: (ds: string) => string): Promise<string> {
    const ds = `ds_${++n}`;
    await conn.run(`CREATE SCHEMA ${ds}; ${sql(ds)}`);
    return ds;
  }
  const failure = async (ds: string, line: string, options?: { refresh?: boolean; resource?: string }) =>
    (await commitError(conn, ds, [logs, labels], new Error(line), 'committing logs', 'x.duckdb', options)).message;

  it('a NOT NULL is the cause by its column, not by its table alone', async () => {
    const ds = await dataset((s) => `CREATE TABLE ${s}.logs (id VARCHAR NOT NULL, count BIGINT, tags BIGINT[], note VARCHAR NOT NULL);
      CREATE TABLE ${s}.logs__labels (name VARCHAR);`);
    expect(await failure(ds, 'Constraint Error: NOT NULL constraint failed: logs.note')).toContain('outside it: logs.note is NOT NULL (the cause of this failure); logs.id is NOT NULL. Undo it with');
  });

  it('a type is the cause by the source column of the failed cast; a list of integers made VARCHAR[] is not blamed', async () => {
    const ds = await dataset((s) => `CREATE TABLE ${s}.logs (id VARCHAR, count INTEGER, tags VARCHAR[], note VARCHAR NOT NULL);
      CREATE TABLE ${s}.logs__labels (name VARCHAR);`);
    const message = await failure(ds, 'Conversion Error: Type INT64 with value 9999999999 can\'t be cast because the value is out of range for the destination type INT32 when casting from source column count');
    expect(message).toContain('outside it: logs.count is INTEGER, the loader made it BIGINT (the cause of this failure); logs.note is NOT NULL. Undo it with');
    expect(message).not.toContain('tags');
  });

  it('two CHECKs on the table DuckDB names: neither is picked out as the cause', async () => {
    const ds = await dataset((s) => `CREATE TABLE ${s}.logs (id VARCHAR, count BIGINT CHECK (count > 0), tags BIGINT[], note VARCHAR CHECK (note <> ''));
      CREATE TABLE ${s}.logs__labels (name VARCHAR);`);
    const message = await failure(ds, 'Constraint Error: CHECK constraint failed on table logs with expression CHECK((count > 0))');
    expect(message).toMatch(/outside it: logs has CHECK\(\(count > 0\)\); logs has CHECK\(\(note != ''\)\)\. Undo it with/);
    expect(message).not.toContain('the cause of this failure');
  });

  it('an index is dropped and made again only around the ALTER of its own table', async () => {
    const ds = await dataset((s) => `CREATE TABLE ${s}.logs (id VARCHAR, count INTEGER, tags BIGINT[], note VARCHAR);
      CREATE INDEX logs_by_id ON ${s}.logs (id);
      CREATE TABLE ${s}.logs__labels (name VARCHAR); CREATE INDEX labels_by_name ON ${s}.logs__labels (name);`);
    const message = await failure(ds, 'Conversion Error: Type INT64 with value 9999999999 can\'t be cast when casting from source column count');
    expect(message).toContain(`Undo it with DROP INDEX "${ds}"."logs_by_id"; ALTER TABLE "${ds}"."logs" ALTER "count" SET DATA TYPE BIGINT; CREATE INDEX logs_by_id`);
    expect(message).not.toContain('labels_by_name');
  });

  it('the copy that undoes a constraint sets your comments again, on one line; the loader\'s own it writes at its next load', async () => {
    const ds = await dataset((s) => `CREATE TABLE ${s}.logs (id VARCHAR, count BIGINT CHECK (count > 0), tags BIGINT[], note VARCHAR);
      CREATE TABLE ${s}.logs__labels (name VARCHAR);
      CREATE TABLE ${s}._pipeline_comments (table_name VARCHAR NOT NULL, column_name VARCHAR, comment VARCHAR NOT NULL, load_id VARCHAR);
      INSERT INTO ${s}._pipeline_comments VALUES ('logs', NULL, 'Cases. [doc]', '1'), ('logs', 'id', 'Case UUID. [doc]', '1'), ('logs', 'count', 'Messages. [doc]', '1');
      COMMENT ON TABLE ${s}.logs IS 'Cases. [doc]'; COMMENT ON COLUMN ${s}.logs.id IS 'Case UUID. [doc]';
      COMMENT ON COLUMN ${s}.logs.count IS 'Mine: counted twice'; COMMENT ON COLUMN ${s}.logs.note IS E'the agent''s\\nnote \\\\ \\x01beef end';
      COMMENT ON COLUMN ${s}.logs.tags IS E'unit\\x1fsep and del\\x7f';`);
    const comments = async () => (await conn.runAndReadAll(`SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = '${ds}' AND table_name = 'logs'
      AND comment IS NOT NULL UNION ALL SELECT NULL, comment FROM duckdb_tables() WHERE schema_name = '${ds}' AND table_name = 'logs' AND comment IS NOT NULL ORDER BY ALL`)).getRowObjectsJS();
    const yours = [{ column_name: 'count', comment: 'Mine: counted twice' }, { column_name: 'note', comment: "the agent's\nnote \\ \u0001beef end" },
      { column_name: 'tags', comment: 'unit\u001fsep and del\u007f' }];
    expect(await comments()).toEqual(expect.arrayContaining(yours));
    const message = await failure(ds, 'Constraint Error: CHECK constraint failed on table logs with expression CHECK((count > 0))');
    expect(message.split('\n')).toHaveLength(1);
    // Every control character escaped (\x01 before a hex digit as \x01, not \x1), not only line breaks.
    expect(message).not.toMatch(/[\u0000-\u001f\u007f]/);
    const copy = /\): (CREATE TABLE .*), then rerun/.exec(message)?.[1];
    expect(copy, message).toBeDefined();
    await conn.run(copy!);
    // Before: CREATE TABLE … AS keeps no comment, and the copy printed set none again: both of yours were gone.
    // The loader's (as it recorded them) are left out: its next load writes them on a table that has none.
    expect(await comments()).toEqual(yours);
    expect(await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM duckdb_constraints() WHERE schema_name = '${ds}' AND constraint_type = 'CHECK'`)
      .then((r) => r.getRowObjectsJS())).toEqual([{ n: 0 }]);
  });

  it('--refresh blocked by foreign keys: the table DuckDB named first, every key, each table dropped once', async () => {
    const ds = await dataset((s) => `CREATE TABLE ${s}.logs (id VARCHAR PRIMARY KEY, count BIGINT, tags BIGINT[], note VARCHAR UNIQUE);
      CREATE TABLE ${s}.logs__labels (name VARCHAR);
      CREATE TABLE ${s}.a_links (case_id VARCHAR REFERENCES ${s}.logs (id));
      CREATE TABLE ${s}.my_notes (case_id VARCHAR REFERENCES ${s}.logs (id), note VARCHAR REFERENCES ${s}.logs (note));`);
    const message = await failure(ds, 'Catalog Error: Could not drop the table because this table is main key table of the table "my_notes"', { refresh: true, resource: 'logs' });
    expect(message).toContain(`--refresh cannot drop ${ds}.logs: my_notes has FOREIGN KEY (case_id) REFERENCES ${ds}.logs(id); my_notes has FOREIGN KEY (note) REFERENCES ${ds}.logs(note); a_links has FOREIGN KEY`);
    expect(message).toContain(`so drop your table (DROP TABLE "${ds}"."my_notes"; DROP TABLE "${ds}"."a_links";) or copy it`);
  });
});

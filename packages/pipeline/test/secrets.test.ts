// Secrets audit of the loader: with the sandbox's real credentials, no failure puts one in the CLI's output (stdout,
// stderr, --verbose) or in the DuckDB file (`_pipeline_loads.error` and every other table).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { query, runCli, sandbox, tempDir } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let secrets: string[];

beforeAll(async () => {
  box = await sandbox({ cases: 150, widgets: 1, days: 5 });
  tmp = tempDir();
  secrets = [box.env.SNAPENGAGE_API_TOKEN!, box.env.SNAPENGAGE_API_KEY!, box.env.SNAPENGAGE_PROVISIONING_KEY!];
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

/** Every row of every table of the file, as JSON text. */
async function dumpDatabase(path: string): Promise<string> {
  const tables = await query(path, `SELECT table_schema, table_name FROM information_schema.tables`);
  let out = '';
  for (const t of tables) out += `${JSON.stringify(await query(path, `SELECT * FROM "${String(t.table_schema)}"."${String(t.table_name)}"`))}\n`;
  return out;
}

function expectNoSecret(label: string, text: string): void {
  for (const secret of secrets) expect(text.includes(secret), `${label} quotes a credential`).toBe(false);
}

describe('no credential in the loader’s output or DuckDB file', () => {
  it('a credential with a line break inside (a multi-line quoted .env value) fails as a config error that does not quote it', async () => {
    const db = join(tmp.dir, 'linebreak.duckdb');
    // An existing database, so the failed load is recorded in _pipeline_loads.
    const first = await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(first.code).toBe(0);
    const dir = tempDir('sepipe-env-');
    try {
      // util.parseEnv expands \n inside double quotes: the value holds the real token, a line break, and more.
      writeFileSync(join(dir.dir, '.env'), `SNAPENGAGE_API_TOKEN="${box.env.SNAPENGAGE_API_TOKEN}\\nrest"\n`);
      const { SNAPENGAGE_API_TOKEN: _fromEnvFile, ...env } = box.env;
      const run = await runCli(['run', '--resources', 'logs', '--duckdb', db, '--verbose'], { env: env as Record<string, string>, cwd: dir.dir });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/Extracting logs failed: .*SNAPENGAGE_API_TOKEN.*line break/);
      expectNoSecret('CLI output', run.stdout + run.stderr);
      const loads = await query(db, `SELECT resource, status, error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`);
      expect(loads).toHaveLength(1);
      expect(String(loads[0]?.error)).toContain('SNAPENGAGE_API_TOKEN');
      expectNoSecret('DuckDB file', await dumpDatabase(db));
    } finally {
      dir.cleanup();
    }
  });

  it('a base URL that does not parse is not echoed with the password it carries', async () => {
    // A user:password base URL with a bad port: the password is the sandbox's real token.
    const baseUrl = `http://user:${box.env.SNAPENGAGE_API_TOKEN}@127.0.0.1:99999`;
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', join(tmp.dir, 'baseurl.duckdb')], { env: { ...box.env, SNAPENGAGE_BASE_URL: baseUrl }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('SNAPENGAGE_BASE_URL (or connection.baseUrl) is not a URL: "http://***@127.0.0.1:99999"');
    expectNoSecret('CLI output', run.stdout + run.stderr);
  });
});

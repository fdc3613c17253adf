// Shared test helpers: a sandbox over loopback, temp DuckDB files, the sandbox's truth, and a CLI child process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { startSandbox, type Sandbox, type SandboxOptions } from 'snapengage-sandbox';

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_SOURCE = join(PACKAGE_DIR, 'src', 'cli.ts');
/** tsx's loader by absolute URL: `--import tsx` would resolve from the child's cwd (a temp dir without node_modules). */
const TSX_LOADER = pathToFileURL(join(PACKAGE_DIR, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** A fixed "now" so that sandbox timestamps and the loader's "today" agree within a test. */
export async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  return startSandbox({ port: 0, seed: 7, cases: 600, widgets: 2, days: 10, ...options });
}

export function tempDir(prefix = 'sepipe-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export type TruthCase = Record<string, unknown> & { id: string; transcripts?: Array<Record<string, unknown>> };

export async function truth(box: Sandbox, resource = 'logs'): Promise<TruthCase[]> {
  const response = await fetch(`${box.url}/__sandbox/truth?resource=${resource}`);
  if (!response.ok) throw new Error(`truth: HTTP ${response.status}`);
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TruthCase);
}

export async function admin(box: Sandbox, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${box.url}/__sandbox/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`admin ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

export async function stats(box: Sandbox): Promise<{ requests: number }> {
  const response = await fetch(`${box.url}/__sandbox/stats`);
  return (await response.json()) as { requests: number };
}

/** Runs SQL on a DuckDB file with a short-lived read connection; rows as plain JSON-safe objects. */
export async function query(path: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjectsJson() as Array<Record<string, unknown>>;
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the CLI from its TypeScript source through tsx (no build needed), with a controlled environment. */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  return new Promise((resolvePromise) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export function spawnCli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env };
  return spawn(process.execPath, ['--conditions=source', '--import', TSX_LOADER, CLI_SOURCE, ...args], {
    cwd: options.cwd ?? PACKAGE_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Compares the loaded `logs` tables with the truth: ids once each, scalar fields, transcript counts and order. */
export async function expectMatchesTruth(path: string, dataset: string, cases: TruthCase[]): Promise<string[]> {
  const problems: string[] = [];
  const rows = await query(path, `SELECT * FROM "${dataset}".logs`);
  const byId = new Map<string, Record<string, unknown>>();
  for (const row of rows) {
    const id = String(row.id);
    if (byId.has(id)) problems.push(`duplicate id ${id}`);
    byId.set(id, row);
  }
  if (rows.length !== cases.length) problems.push(`logs has ${rows.length} rows, truth has ${cases.length}`);
  const transcripts = await query(
    path,
    `SELECT l.id AS case_id, t._list_idx AS idx, t.message AS message
       FROM "${dataset}".logs__transcripts t JOIN "${dataset}".logs l ON t._parent_id = l._row_id
      ORDER BY l.id, t._list_idx`,
  );
  const messagesByCase = new Map<string, unknown[]>();
  for (const t of transcripts) {
    const list = messagesByCase.get(String(t.case_id)) ?? [];
    list.push(t.message);
    messagesByCase.set(String(t.case_id), list);
  }
  for (const expected of cases) {
    const row = byId.get(expected.id);
    if (!row) {
      problems.push(`missing case ${expected.id}`);
      continue;
    }
    for (const field of ['type', 'requested_by', 'description', 'created_at_seconds', 'survey_score', 'survey_comments', 'chat_duration']) {
      if (!(field in expected)) continue;
      const want = expected[field] ?? null;
      // A value that does not fit the column's type lands in a variant column (dlt's `__v_text`).
      const got = row[field] ?? row[`${field}__v_text`] ?? null;
      if (String(want) !== String(got)) problems.push(`case ${expected.id} ${field}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
    const wantMessages = (expected.transcripts ?? []).map((t) => t.message ?? null);
    const gotMessages = messagesByCase.get(expected.id) ?? [];
    if (JSON.stringify(wantMessages) !== JSON.stringify(gotMessages)) {
      problems.push(`case ${expected.id} transcripts: want ${wantMessages.length} in order, got ${gotMessages.length}`);
    }
    if (problems.length > 20) break;
  }
  return problems;
}

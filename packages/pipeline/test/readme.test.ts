// The README's dataset API example, run as written (only its import is pointed at this checkout's source) in a
// directory holding a snapengage.duckdb loaded from the sandbox.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/run.js';
import { PACKAGE_DIR, query, sandbox, tempDir } from './helpers.js';

const TSX_LOADER = pathToFileURL(join(PACKAGE_DIR, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** The ```ts blocks of a README section. */
function codeBlocks(markdown: string, heading: string): string[] {
  const section = markdown.split(/^## /m).find((part) => part.startsWith(heading)) ?? '';
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('README: show and the dataset API', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    box = await sandbox({ cases: 120, widgets: 2, days: 3 });
    tmp = tempDir('readme-');
    await runPipeline(
      { resources: { logs: true, widgets: true }, rateLimit: { requestsPerSecond: 0 } },
      { env: box.env, destination: { path: join(tmp.dir, 'snapengage.duckdb') } },
    );
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('the example runs as written and prints what the dataset holds', async () => {
    const [example, ...more] = codeBlocks(readFileSync(join(PACKAGE_DIR, 'README.md'), 'utf8'), 'show and the dataset API');
    expect(more).toEqual([]);
    expect(example).toContain("from 'snapengage-pipeline'");
    const file = join(tmp.dir, 'example.mts');
    writeFileSync(file, example!.replace("from 'snapengage-pipeline'", `from ${JSON.stringify(pathToFileURL(join(PACKAGE_DIR, 'src', 'index.ts')).href)}`));
    const child = spawn(process.execPath, ['--conditions=snapengage-source', '--import', TSX_LOADER, file], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toContain('logs 120');
    expect(lines).toContain('widgets 2');
    expect(lines.at(-2)).toMatch(/^\S+ \d+ loaded \d+ \[ 'logs', 'widgets' \]$/);
    // iterate()'s batches add up to every transcript row.
    const [{ n }] = (await query(join(tmp.dir, 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs__transcripts')) as [{ n: number }];
    expect(lines.at(-1)).toBe(String(n));
  }, 30_000);
});

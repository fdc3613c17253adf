import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../src/index.js';

// A truth stream read by a fast client in another process (curl, a Python check, DuckDB's read_json) must not hold
// the event loop: the socket then takes every write at once, so a loop that only waited for 'drain' never yielded,
// and the sandbox answered nothing else, nor SIGTERM, until the whole stream was sent (260 GB at 100M cases).

const READER = `
const http = require('node:http');
http.get(process.argv[1], (res) => {
  let first = true;
  res.on('data', () => { if (first) { first = false; process.stdout.write('reading\\n'); } });
  res.on('end', () => process.stdout.write('done\\n'));
});
`;

describe('a truth stream read by a fast client', () => {
  it('leaves the sandbox answering other requests meanwhile', async () => {
    const box = await startSandbox({ cases: 150_000, seed: 2, widgets: 1 });
    const reader = spawn(process.execPath, ['-e', READER, `${box.url}/__sandbox/truth`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    reader.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await new Promise<void>((resolve) => reader.stdout.on('data', () => output.includes('reading') && resolve()));
      const stats = await fetch(`${box.url}/__sandbox/stats`);
      expect(stats.status).toBe(200);
      // Answered while the stream (about 400 MB) still runs, not after it.
      expect(output).not.toContain('done');
    } finally {
      if (reader.exitCode === null && reader.signalCode === null) {
        const exited = once(reader, 'exit');
        reader.kill();
        await exited;
      }
      await box.close();
    }
  }, 60_000);
});

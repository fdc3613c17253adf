import { execFileSync } from 'node:child_process';
import { request, type ClientRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { SandboxOptionError, startSandbox } from '../src/index.js';

// What a user writing their own tests meets first: option mistakes and a port that is taken must say which option
// is wrong and what to do, in the library and in the CLI; and a cut-off request must not print an "internal error".

const CLI = ['--import', 'tsx', fileURLToPath(new URL('../src/cli.ts', import.meta.url))];

function runCli(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync(process.execPath, [...CLI, ...args], { stdio: 'pipe', encoding: 'utf8', timeout: 20_000 });
    return { status: 0, stderr: '' };
  } catch (caught) {
    const failure = caught as { status: number | null; stderr: string };
    return { status: failure.status, stderr: failure.stderr };
  }
}

describe('a port that is taken', () => {
  it('rejects with a SandboxOptionError naming the port option and the way out', async () => {
    const first = await startSandbox({ cases: 1 });
    try {
      const port = Number(new URL(first.url).port);
      const attempt = startSandbox({ cases: 1, port });
      await expect(attempt).rejects.toBeInstanceOf(SandboxOptionError);
      await expect(attempt).rejects.toThrow(new RegExp(`^port ${port} .*in use.*port 0`));
    } finally {
      await first.close();
    }
  });

  it('makes the CLI say --port, on one stderr line, exit 2', async () => {
    const first = await startSandbox({ cases: 1 });
    try {
      const port = new URL(first.url).port;
      const result = runCli(['--port', port, '--cases', '1']);
      expect(result.status).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(`--port ${port} `);
      expect(result.stderr).toContain('--port 0');
    } finally {
      await first.close();
    }
  });
});

describe('option mistakes', () => {
  it('refuses an unknown option by name instead of silently using the defaults', async () => {
    await expect(startSandbox({ case: 10 } as never)).rejects.toThrow(/unknown option "case".*cases/);
  });

  it('refuses a now whose dates the Logs API could not be asked for, instead of a RangeError or a start date "+275760-06"', async () => {
    for (const now of [1e20, -1e20, 8.64e15, Date.UTC(10000, 0, 5), -1]) {
      await expect(startSandbox({ now, cases: 1 })).rejects.toThrow(/^now must be a time between 1970-01-01 and 9999-12-31 \(UTC\), got /);
    }
    const last = await startSandbox({ now: Date.UTC(9999, 11, 31, 23), days: 1, cases: 1 });
    expect(last.startDate).toBe('9999-12-31');
    await last.close();
  });

  it('shows a string given for a number as a string', async () => {
    await expect(startSandbox({ port: '8080' as never })).rejects.toThrow('port must be an integer between 0 and 65535, got "8080"');
  });

  it('names the flag, not the option, in the CLI', () => {
    const result = runCli(['--widgets', '0']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--widgets must be an integer between 1 and 5000, got 0');
    expect(runCli(['--seed', '9007199254740993']).stderr).toContain('got 9007199254740993');
  });
});

describe('a bad fault spec', () => {
  it('names the faults option in the library and --faults in the CLI', async () => {
    await expect(startSandbox({ faults: '429=2' })).rejects.toThrow(/^faults: 429=2 must be a probability between 0 and 1$/);
    const result = runCli(['--faults', 'teapot=1']);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^snapengage-sandbox: --faults: unknown key "teapot" \(known: 429, /);
  });
});

describe('a request cut off mid-body', () => {
  it('is not reported as an internal error, whether the client hangs up or close() drops it', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const sandbox = await startSandbox({ cases: 1 });
    const startUpload = (): ClientRequest => {
      const url = new URL('/__sandbox/cases', sandbox.url);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-length': '100000' } });
      req.on('error', () => undefined);
      req.write('{"widgetId":"x","cases":[');
      return req;
    };
    try {
      const first = startUpload();
      await new Promise((resolve) => setTimeout(resolve, 200));
      first.destroy();
      startUpload();
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await sandbox.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      spy.mockRestore();
    }
    expect(written.join('')).not.toContain('internal error');
  });
});

describe('several sandboxes in one test process', () => {
  it('keep injected cases and faults to themselves, and close() frees the port at once', async () => {
    // One `now` for both: without it each dates its cases from its own start, a millisecond apart on a busy machine.
    const now = Date.now();
    const [a, b] = await Promise.all([startSandbox({ cases: 50, seed: 3, now }), startSandbox({ cases: 50, seed: 3, now })]);
    const widgetId = a.credentials.widgetIds[0] ?? '';
    const post = (url: string, path: string, body: unknown): Promise<Response> => fetch(`${url}/__sandbox/${path}`, { method: 'POST', body: JSON.stringify(body) });
    const truth = async (url: string): Promise<string> => (await fetch(`${url}/__sandbox/truth`)).text();
    const logs = (box: typeof a): Promise<Response> =>
      fetch(`${box.url}/api/v2/${box.credentials.orgId}/logs?widgetId=${widgetId}&start=${box.startDate}&end=${box.startDate}`, { headers: { authorization: box.credentials.apiToken } });
    try {
      expect(await truth(a.url)).toBe(await truth(b.url));
      expect((await post(a.url, 'cases', { widgetId, cases: [{}] })).status).toBe(201);
      expect((await post(a.url, 'faults', { faults: '500=1' })).status).toBe(200);
      expect(await truth(a.url)).not.toBe(await truth(b.url));
      expect((await logs(a)).status).toBe(500);
      expect((await logs(b)).status).toBe(200);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const port = Number(new URL(a.url).port);
    const again = await startSandbox({ cases: 1, port });
    await again.close();
  });
});

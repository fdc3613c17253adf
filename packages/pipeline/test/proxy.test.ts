// A corporate HTTP proxy, as a user behind one runs the CLI: HTTP_PROXY / HTTPS_PROXY / NO_PROXY in the environment
// (Node's fetch ignores them). The proxy is a tiny real one on 127.0.0.1 (CONNECT tunnels and absolute-form
// requests) in front of the sandbox: the base URL names a reserved .test host that only the proxy knows (it connects
// every target to the sandbox's port on 127.0.0.1), as the API's host is reachable only through a corporate proxy.
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { proxiedFetch, proxyFromEnv, proxyVarFor } from '../src/proxy.js';
import { query, refusingUrl, runCli, sandbox, tempDir } from './helpers.js';

const oneLine = (text: string) => text.trim().split('\n').filter((l) => l.trim() !== '');

/** A forward proxy that records each target it was asked for; `answer` replaces the tunnel with a status of its own. */
async function startProxy(answer?: number): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const upstream = httpRequest({ host: '127.0.0.1', port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    if (answer !== undefined) {
      socket.end(`HTTP/1.1 ${answer} Proxy Says No\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const port = Number((req.url ?? '').split(':').pop());
    const upstream = connect(port, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the CLI behind an HTTP proxy', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  /** The sandbox as seen through the proxy. */
  let proxiedEnv: Record<string, string>;

  beforeAll(async () => {
    box = await sandbox({ cases: 20, widgets: 1, days: 2 });
    tmp = tempDir();
    proxiedEnv = { ...box.env, SNAPENGAGE_BASE_URL: `http://snapengage.proxy.test:${new URL(box.url).port}` };
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('HTTP_PROXY carries every request, and the load is complete', async () => {
    const proxy = await startProxy();
    try {
      const db = join(tmp.dir, 'proxied.duckdb');
      const run = await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: { ...proxiedEnv, HTTP_PROXY: proxy.url }, cwd: tmp.dir });
      expect(run.code, run.stderr).toBe(0);
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(proxy.seen.every((line) => line.includes('snapengage.proxy.test'))).toBe(true);
      const [row] = await query(db, 'SELECT count(*) AS n FROM snapengage_data.widgets');
      expect(Number(row?.n)).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('a loopback host (the sandbox) goes direct, NO_PROXY or not: a proxy cannot reach this machine', async () => {
    const proxy = await startProxy();
    try {
      const run = await runCli(['run', '--resources', 'widgets', '--duckdb', join(tmp.dir, 'direct.duckdb')], {
        env: { ...box.env, http_proxy: proxy.url, https_proxy: proxy.url },
        cwd: tmp.dir,
      });
      expect(run.code).toBe(0);
      expect(proxy.seen).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("a loopback host goes direct where Node's own fetch takes the proxy too (NODE_USE_ENV_PROXY=1, --use-env-proxy)", async () => {
    // Node 22.21+ and 24: the variable (or flag) makes Node's fetch send every request, loopback ones included, to the
    // proxy unless NO_PROXY lists them, so the loader's "direct" fetch took it after all. Node 20 ignores both.
    const proxy = await startProxy();
    try {
      for (const how of [{ NODE_USE_ENV_PROXY: '1' }, { NODE_OPTIONS: '--use-env-proxy' }] as Record<string, string>[]) {
        if ('NODE_OPTIONS' in how && !process.allowedNodeEnvironmentFlags.has('--use-env-proxy')) continue;
        const run = await runCli(['run', '--resources', 'widgets', '--duckdb', join(tmp.dir, `node-proxy-${Object.keys(how)[0]}.duckdb`)], {
          env: { ...box.env, HTTP_PROXY: proxy.url, ...how },
          cwd: tmp.dir,
        });
        expect(run.stderr).not.toContain('snapengage-pipeline:');
        expect(run.code).toBe(0);
        expect(proxy.seen).toEqual([]);
      }
    } finally {
      await proxy.close();
    }
  });

  it('a proxy variable it cannot use does not stop a run against the sandbox, which goes direct anyway', async () => {
    // A machine-wide proxy variable the loader cannot use (socks5://, a bad port): before, the run
    // against a loopback sandbox failed on it, though none of its requests would have taken the proxy.
    const run = await runCli(['run', '--resources', 'widgets', '--duckdb', join(tmp.dir, 'sandbox-bad-proxy.duckdb')], {
      env: { ...box.env, https_proxy: 'http://proxy.corp:99999', http_proxy: 'socks5://proxy.corp:1080' },
      cwd: tmp.dir,
    });
    expect(run.stderr).not.toContain('snapengage-pipeline:');
    expect(run.code).toBe(0);
  });

  it('a proxy value without a scheme is read as http://, as curl reads it', async () => {
    const proxy = await startProxy();
    try {
      const db = join(tmp.dir, 'bare-proxy.duckdb');
      const run = await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: { ...proxiedEnv, http_proxy: proxy.url.replace('http://', '') }, cwd: tmp.dir });
      expect(run.code, run.stderr).toBe(0);
      expect(proxy.seen.length).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });

  it('a proxy of another kind (socks5://) is one line naming the variable, before any request; its password is not shown', async () => {
    const run = await runCli(['run', '--resources', 'widgets', '--duckdb', join(tmp.dir, 'bad-proxy.duckdb')], {
      env: { ...proxiedEnv, HTTPS_PROXY: 'http://user:s3cret-pw@proxy.corp:99999', HTTP_PROXY: 'socks5://user:s3cret-pw@proxy.corp:1080' },
      cwd: tmp.dir,
    });
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toHaveLength(1);
    // HTTPS_PROXY is checked first: the https proxy is the one the real API's requests take.
    expect(run.stderr).toContain('HTTPS_PROXY is not a valid URL (check the host and port): write it as http://host:port');
    const socks = await runCli(['run', '--resources', 'widgets', '--duckdb', join(tmp.dir, 'bad-proxy.duckdb')], {
      env: { ...proxiedEnv, HTTP_PROXY: 'socks5://user:s3cret-pw@proxy.corp:1080' },
      cwd: tmp.dir,
    });
    expect(socks.code).toBe(1);
    expect(oneLine(socks.stderr)).toHaveLength(1);
    expect(socks.stderr).toContain('HTTP_PROXY is a socks5:// proxy: write it as http://host:port');
    expect(run.stderr + socks.stderr).not.toContain('s3cret-pw');
    expect(run.stderr).not.toContain('s3cret-pw');
  });

  it('a proxy that refuses the tunnel (407) or is not listening fails in one line that names the proxy variable', async () => {
    writeConfig(tmp.dir);
    const refusing = await startProxy(407);
    const notListening = await refusingUrl();
    try {
      for (const proxyUrl of [refusing.url, notListening]) {
        const run = await runCli(['run', '--config', 'few-retries.mjs', '--duckdb', join(tmp.dir, 'refused.duckdb')], {
          env: { ...proxiedEnv, HTTP_PROXY: proxyUrl },
          cwd: tmp.dir,
        });
        expect(run.code).toBe(1);
        expect(oneLine(run.stderr)).toHaveLength(1);
        expect(run.stderr).toContain('through the proxy in HTTP_PROXY');
      }
    } finally {
      await refusing.close();
    }
  });

  it('a host NO_PROXY sends direct is not blamed on the proxy when it cannot be reached', async () => {
    writeConfig(tmp.dir);
    const proxy = await startProxy();
    try {
      // The API host only the proxy knows, listed in NO_PROXY as users write it (a suffix, a port, spaces).
      for (const noProxy of ['proxy.test', '.proxy.test', `internal.corp, snapengage.proxy.test:${new URL(box.url).port}`, '*']) {
        const run = await runCli(['run', '--config', 'few-retries.mjs', '--duckdb', join(tmp.dir, 'no-proxy.duckdb')], {
          env: { ...proxiedEnv, HTTP_PROXY: proxy.url, NO_PROXY: noProxy },
          cwd: tmp.dir,
        });
        expect(run.code).toBe(1);
        expect(proxy.seen).toEqual([]);
        expect(run.stderr, noProxy).toContain('cannot reach http://snapengage.proxy.test');
        expect(run.stderr, noProxy).not.toContain('proxy in');
      }
      // Another port of that host still goes through the proxy (as undici decides), and gets there.
      const other = await runCli(['run', '--config', 'few-retries.mjs', '--duckdb', join(tmp.dir, 'no-proxy-port.duckdb')], {
        env: { ...proxiedEnv, HTTP_PROXY: proxy.url, NO_PROXY: 'snapengage.proxy.test:1' },
        cwd: tmp.dir,
      });
      expect(other.code, other.stderr).toBe(0);
      expect(proxy.seen.length).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });
});

function writeConfig(dir: string): void {
  // One retry after a short backoff, so the test does not sit through the default one.
  writeFileSync(join(dir, 'few-retries.mjs'), `export const pipeline = { resources: { widgets: true }, connection: { maxRetries: 1, retryBaseDelayMs: 20 } };\n`);
}

describe('proxy variables the loader cannot use', () => {
  it('a value with http:// that is no URL (a port out of range, a space in the host) is called that, not "no http:// in front"', async () => {
    for (const value of ['http://user:s3cret-pw@proxy.corp:99999', 'http://user:s3cret-pw@proxy corp:8080']) {
      const error = await proxyFromEnv({ HTTPS_PROXY: value }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toMatch(/^HTTPS_PROXY is not a valid URL \(check the host and port\): write it as http:\/\/host:port/);
      expect(error?.message).not.toContain('s3cret-pw');
    }
    const bare = await proxyFromEnv({ HTTPS_PROXY: 'user:s3cret-pw@proxy corp:8080' }).then(() => undefined, (e: unknown) => e as Error);
    expect(bare?.message).toMatch(/^HTTPS_PROXY is not a valid URL \(check the host and port\)/);
    expect(bare?.message).not.toContain('s3cret-pw');
  });
});

describe('the proxy the environment given names, and no other', () => {
  it("an env passed to the run is all that is read: the process's own proxy variables (or a blank one) are not used", async () => {
    const given = await startProxy(403);
    const processOwn = await startProxy(403);
    const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, http_proxy: process.env.http_proxy };
    try {
      // undici's EnvHttpProxyAgent reads process.env for any proxy it is not given: the https requests of a run whose
      // env names only HTTP_PROXY went to the process's HTTPS_PROXY, unchecked, while errors named HTTP_PROXY.
      process.env.HTTPS_PROXY = processOwn.url;
      const proxy = await proxyFromEnv({ HTTP_PROXY: given.url });
      await proxiedFetch(proxy!)(new Request('https://api.example.test/x')).catch(() => undefined);
      await proxy!.dispatcher.close();
      expect([given.seen, processOwn.seen]).toEqual([['CONNECT api.example.test:443'], []]);
      // A blank variable is unset (as the loader reads it), not an "Invalid URL" thrown from undici.
      process.env.HTTPS_PROXY = ' ';
      process.env.http_proxy = processOwn.url;
      const blank = await proxyFromEnv({ HTTPS_PROXY: given.url });
      await proxiedFetch(blank!)(new Request('http://api.example.test/x')).catch(() => undefined);
      await blank!.dispatcher.close();
      expect(processOwn.seen).toEqual([]);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await given.close();
      await processOwn.close();
    }
  });
});

describe('NO_PROXY read as undici reads it', () => {
  it('for every entry and URL of a table, a message blames the proxy exactly when undici sent the request to it', async () => {
    const { Agent, ProxyAgent } = await import('undici');
    const noProxies = ['', 'example.com', 'EXAMPLE.com', '.example.com', '*.example.com', 'example.com:443', 'example.com:8443',
      'example.com:0', 'example.com:00443', '[::1]', '[::1]:8080', '::1', '[2001:db8::1]', ' example.com , foo.bar ', 'example.com,,',
      ',', '.', '*.', '*example.com', '10.0.0.1', '10.0.0.0/8', 'sub.example.com', 'xample.com', 'com', 'example.com.'];
    const urls = ['https://example.com/x', 'https://EXAMPLE.com:443/x', 'http://example.com/', 'https://a.sub.example.com/',
      'https://example.com:8443/', 'http://example.com:0/', 'http://[::1]:8080/', 'https://[::1]/', 'https://[2001:db8::1]/',
      'https://10.0.0.1/', 'https://example.com./', 'https://badexample.com/'];
    // Which agent undici hands each request to (its choice is private): direct is a plain Agent, a proxy a ProxyAgent.
    let chosen: string | undefined;
    const saved = [Agent.prototype.dispatch, ProxyAgent.prototype.dispatch];
    Agent.prototype.dispatch = () => ((chosen = 'direct'), true);
    ProxyAgent.prototype.dispatch = () => ((chosen = 'proxy'), true);
    const disagree: string[] = [];
    try {
      for (const noProxy of noProxies) {
        const proxy = (await proxyFromEnv({ HTTPS_PROXY: 'http://proxy.corp:1', HTTP_PROXY: 'http://proxy.corp:2', NO_PROXY: noProxy }))!;
        for (const url of urls) {
          chosen = undefined;
          proxy.dispatcher.dispatch({ origin: new URL(url).origin, path: '/', method: 'GET' }, {});
          expect(chosen, `${noProxy} ${url}`).toBeDefined();
          const blamed = proxyVarFor(proxy, url) !== undefined;
          if (blamed !== (chosen === 'proxy')) disagree.push(`NO_PROXY=${JSON.stringify(noProxy)} ${url}: undici ${chosen}`);
        }
      }
    } finally {
      [Agent.prototype.dispatch, ProxyAgent.prototype.dispatch] = saved as [typeof Agent.prototype.dispatch, typeof ProxyAgent.prototype.dispatch];
    }
    expect(disagree).toEqual([]);
  });
});

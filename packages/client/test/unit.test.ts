// Pure parts: Retry-After parsing, backoff bounds, redaction, option validation, credentialsFromEnv, large integers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLIENT_VERSION, createSnapEngageClient, credentialsFromEnv, parseKeepingLargeIntegers, printable, redactSecrets, secretRedactor, SnapEngageError } from '../src/index.js';
import { upgradedToHttps } from '../src/pagination.js';
import { Redactor } from '../src/redact.js';
import { isRetryableStatus, parseRetryAfter, retryDelayMs } from '../src/retry.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('retry policy', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2024-05-01T12:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    // Only the HTTP-date form: two joined headers or free text are not "retry now".
    expect(parseRetryAfter('2, 2', now)).toBeUndefined();
    expect(parseRetryAfter('soon 3', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    // Fractional seconds are seconds too; a date of the right shape the calendar lacks is no date (not NaN ms).
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter('Wed, 99 May 2024 12:00:00 GMT', now)).toBeUndefined();
  });

  it('backs off exponentially with jitter, and caps Retry-After', () => {
    const settings = { baseDelayMs: 100, maxDelayMs: 1000, retryAfterCapMs: 5000 };
    expect(retryDelayMs(1, undefined, settings, () => 0)).toBe(50);
    expect(retryDelayMs(1, undefined, settings, () => 1)).toBe(100);
    expect(retryDelayMs(3, undefined, settings, () => 1)).toBe(400);
    expect(retryDelayMs(10, undefined, settings, () => 1)).toBe(1000);
    expect(retryDelayMs(1, 2000, settings)).toBe(2000);
    expect(retryDelayMs(1, 60_000, settings)).toBe(5000);
  });

  it('retries 408, 429 and 5xx but not 501/505 or other 4xx', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 501, 505, 600, 999].some(isRetryableStatus)).toBe(false);
    expect(isRetryableStatus(599)).toBe(true);
  });
});

describe('parseKeepingLargeIntegers', () => {
  const text = '{"n": 12345678901234567891, "list": [-9007199254740993, 9007199254740991, 1.5, 1e400], "s": "12345678901234567891", "x": {"d": 123456789012345678901234567890}}';
  it('keeps each integer literal beyond ±2^53 as a BigInt, or as its decimal text, and the rest as JSON.parse reads it', () => {
    expect(parseKeepingLargeIntegers(text)).toEqual({
      n: 12345678901234567891n, list: [-9007199254740993n, 9007199254740991, 1.5, Infinity], s: '12345678901234567891', x: { d: 123456789012345678901234567890n },
    });
    expect(parseKeepingLargeIntegers(text, 'text')).toEqual({
      n: '12345678901234567891', list: ['-9007199254740993', 9007199254740991, 1.5, Infinity], s: '12345678901234567891', x: { d: '123456789012345678901234567890' },
    });
    expect(parseKeepingLargeIntegers('9007199254740993', 'text')).toBe('9007199254740993');
    expect(() => parseKeepingLargeIntegers('{"n": 9007199254740993', 'text')).toThrow(SyntaxError);
  });
});

describe('redaction', () => {
  it('masks credential query parameters and known secrets in URLs and text', () => {
    const r = new Redactor(['s3cr3t-value', 'a/b+c=d']);
    // The Provisioning API's email= keeps its first letter and domain.
    expect(r.url('https://x.test/api/v1/user.json?email=ab%40b.c&api_key=whatever')).toBe('https://x.test/api/v1/user.json?email=a***%40b.c&api_key=***');
    expect(r.text('token s3cr3t-value and a%2Fb%2Bc%3Dd')).toBe('token *** and ***');
    expect(r.url('not a url s3cr3t-value')).toBe('not a url ***');
    // As a query string encodes it (URLSearchParams: space as +, ! ( ) ~ ' escaped), and a file's trailing newline.
    const odd = new Redactor(["Pk!e(y)~2024 x'Q", 'tok-from-file\n']);
    expect(odd.text('No widget for /w?api_key=Pk%21e%28y%29%7E2024+x%27Q')).toBe('No widget for /w?api_key=***');
    expect(odd.text('echo: tok-from-file.')).toBe('echo: ***.');
    // An address after dots (an ellipsis, a sentence's full stop) is reduced too; the dots stay.
    expect(r.text('no account ...bob.smith@corp.example; .ann@corp.example, x.y@a.b')).toBe('no account ...b***@corp.example; .a***@corp.example, x***@a.b');
    expect(r.url('https://x.test/u?email=.bob%40corp.example')).toBe('https://x.test/u?email=.b***%40corp.example');
  });

  it('hides a secret with a run of backslashes in every form, and a near-miss of it does not backtrack for ever', () => {
    const secret = `k${'\\'.repeat(28)}Q-tail`;
    const r = new Redactor([secret]);
    // Before, each backslash was matched raw or JSON-escaped on its own: a near-miss (the run, then not the rest) took
    // ~2^n steps: 20 s here for n = 28, years for n = 60. A synchronous regex cannot be interrupted, so the n = 60 case
    // runs in a child process; the limit is a hang guard 10^5 times the time it takes now, not a speed check.
    const probe = `import { Redactor } from './src/redact.ts';
      const secret = 'k' + '\\\\'.repeat(60) + 'Q';
      process.stdout.write(new Redactor([secret]).text('k' + '\\\\'.repeat(120) + 'X'));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: packageDir, encoding: 'utf8', timeout: 60_000 });
    expect(child.signal).toBeNull();
    expect(child.stdout).toBe(`k${'\\'.repeat(120)}X`);
    const nearMiss = `k${'\\'.repeat(56)}Q-nope`;
    expect(r.text(nearMiss)).toBe(nearMiss);
    const raw = `echo ${secret}.`;
    const json = `echo ${JSON.stringify(secret).slice(1, -1)}.`;
    const mixed = `echo k${'\\\\'.repeat(12)}${'%5c'.repeat(8)}${'\\u005C'.repeat(8)}Q-tail.`;
    for (const text of [raw, json, mixed]) expect(r.text(text)).toBe('echo ***.');
    // A backslash before a quote, read either way.
    const quoted = new Redactor(['ab\\"cd']);
    expect(quoted.text(`x ${JSON.stringify('ab\\"cd')} y ab\\"cd`)).toBe('x "***" y ***');
  });

  it('secretRedactor masks each of many texts as redactSecrets does, its patterns reused from one text to the next', () => {
    // Reused from one text to the next: whatever state a pattern keeps must not make it miss a secret in a later text.
    // Each text here has its secret at another place, in another form.
    const secrets = ['s3cr3t-value', 'a/b+c=d', undefined, 'ab'];
    const texts = [
      'token s3cr3t-value at the end: s3cr3t-value',
      's3cr3t-value first',
      'a%2Fb%2Bc%3Dd encoded, then raw a/b+c=d',
      'short ab stays, bob@corp.example is reduced',
      'JSON-escaped a\\/b+c\\u003dd and nothing else',
      'none here',
      's3cr3t-value',
    ];
    const redact = secretRedactor(secrets);
    const expected = texts.map((text) => redactSecrets(text, secrets));
    expect(expected).toEqual([
      'token *** at the end: ***',
      '*** first',
      '*** encoded, then raw ***',
      'short ab stays, b***@corp.example is reduced',
      'JSON-escaped *** and nothing else',
      'none here',
      '***',
    ]);
    for (let pass = 0; pass < 2; pass++) expect(texts.map(redact)).toEqual(expected);
  });
});

describe('printable', () => {
  it('escapes bidi marks, embeddings, overrides and isolates and invisible format characters (Trojan Source), not text', () => {
    // LRM, RLM, ALM; LRE..RLO (PDF included); LRI..PDI; zero-width space/joiners, word joiner, BOM; line/paragraph separators.
    const hidden = ['\u200e', '\u200f', '\u061c', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u2028', '\u2029'];
    for (const c of hidden) {
      expect(printable(`a${c}b`)).toBe(`a\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}b`);
    }
    // An error line that reads "access granted" but holds "denied" reordered by an RLO ... PDF, and RLM-hidden text.
    expect(printable('HTTP 403 \u202edeined\u202c \u200fok')).toBe('HTTP 403 \\u202edeined\\u202c \\u200fok');
    // Soft hyphen, Mongolian vowel separator, interlinear annotation: invisible too.
    for (const c of ['\u00ad', '\u180e', '\ufff9', '\ufffa', '\ufffb']) {
      expect(printable(`a${c}b`)).toBe(`a\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}b`);
    }
    // Tag characters spell hidden ASCII ("ok" here) that a terminal does not show.
    expect(printable('granted\u{e006f}\u{e006b}')).toBe('granted\\u{e006f}\\u{e006b}');
    // Right-to-left text itself, accents and emoji are text: left as they are.
    expect(printable('مرحبا שלום café 😀 ñ')).toBe('مرحبا שלום café 😀 ñ');
  });
});

describe('options', () => {
  it('reads credentials from the environment, skipping empty values', () => {
    expect(credentialsFromEnv({ SNAPENGAGE_API_TOKEN: ' t ', SNAPENGAGE_API_KEY: '', SNAPENGAGE_BASE_URL: 'http://127.0.0.1:1' })).toEqual({
      apiToken: 't',
      baseUrl: 'http://127.0.0.1:1',
    });
  });

  it('rejects a bad baseUrl or timeout with a config error naming the option', () => {
    expect(() => createSnapEngageClient({ baseUrl: 'www.snapengage.com' })).toThrow(/baseUrl: .*SNAPENGAGE_BASE_URL/);
    expect(() => createSnapEngageClient({ baseUrl: 'https://x.test/?api_key=1' })).toThrow(SnapEngageError);
    expect(() => createSnapEngageClient({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createSnapEngageClient({ maxRetries: 1.5 })).toThrow(/maxRetries/);
    expect(createSnapEngageClient().baseUrl).toBe('https://www.snapengage.com');
  });

  it('rejects the SnapEngage origin with a path (…/api would request /api/api/v2/…); keeps a proxy\'s prefix', () => {
    for (const base of ['https://www.snapengage.com/api', 'https://www.snapengage.com/api/v2/', 'https://www.snapengage.com/public/api']) {
      expect(() => createSnapEngageClient({ baseUrl: base })).toThrow(/baseUrl: .* has a path, but the SnapEngage API's paths \(\/.*\) start at its origin: use https:\/\/www\.snapengage\.com /);
    }
    expect(createSnapEngageClient({ baseUrl: 'https://proxy.example.com/snapengage/' }).baseUrl).toBe('https://proxy.example.com/snapengage');
    // A proxy mounted at a prefix that happens to begin a spec path is still a proxy.
    expect(createSnapEngageClient({ baseUrl: 'https://proxy.example.com/public' }).baseUrl).toBe('https://proxy.example.com/public');
    expect(createSnapEngageClient({ baseUrl: 'https://www.snapengage.com/' }).baseUrl).toBe('https://www.snapengage.com');
  });

  it("refuses plain http to the SnapEngage API's own hosts: the first request would carry the credential unencrypted", () => {
    // The API answers http with a redirect the client does not follow, but only after the token crossed the network.
    for (const base of ['http://www.snapengage.com', 'HTTP://WWW.SNAPENGAGE.COM/', 'http://snapengage.com', 'http://api.snapengage.com:80', 'http://www.snapengage.com./', 'http://snapengage.com../', 'http://www.snapengage.com%2e']) {
      expect(() => createSnapEngageClient({ apiToken: 't', baseUrl: base }), base).toThrow(/baseUrl: .*plain http.*use https:\/\//);
    }
    // Another host over http (a local emulator, an internal proxy) is the user's choice, as before.
    expect(createSnapEngageClient({ baseUrl: 'http://proxy.example.com:8080' }).baseUrl).toBe('http://proxy.example.com:8080');
    expect(createSnapEngageClient({ baseUrl: 'http://notsnapengage.com' }).baseUrl).toBe('http://notsnapengage.com');
  });

  it('iterateLogs rejects a widget list (the Logs API paginates one widget only)', async () => {
    const client = createSnapEngageClient({ apiToken: 't' });
    const iterator = client.iterateLogs({ orgId: 'o', widgetId: 'a,b', start: '2024-01-01', end: '2024-01-02' })[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toMatchObject({ kind: 'config', message: expect.stringContaining('one widgetId') });
  });
});

describe('next links', () => {
  it('follows an http:// link to the configured https host over https, and rewrites nothing else', () => {
    const origin = 'https://www.snapengage.com';
    const up = (link: string, o = origin) => upgradedToHttps(new URL(link), o).toString();
    expect(up('http://www.snapengage.com/api/v2/o/logs?next=abc')).toBe('https://www.snapengage.com/api/v2/o/logs?next=abc');
    expect(up('http://www.snapengage.com/x', 'https://api.example:8443')).toBe('http://www.snapengage.com/x');
    expect(up('http://api.example/x', 'https://api.example:8443')).toBe('http://api.example/x');
    // Another host, an explicit port (another server), or an http base URL: left as they are, for the origin check.
    expect(up('http://evil.example/x')).toBe('http://evil.example/x');
    expect(up('http://www.snapengage.com:8080/x')).toBe('http://www.snapengage.com:8080/x');
    expect(up('http://127.0.0.1:1/x', 'http://127.0.0.1:1')).toBe('http://127.0.0.1:1/x');
  });
});

describe('CLIENT_VERSION', () => {
  // A constant, not read from package.json at run time (the client runs where there is no file system); this keeps
  // the User-Agent from naming an old version after a release bumps package.json.
  it('is the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(CLIENT_VERSION).toBe(pkg.version);
  });
});

describe('SnapEngageError across copies of the package', () => {
  it('is recognised by instanceof and isSnapEngageError whichever copy made it', async () => {
    // A second instance of the module, as an app with two installed versions of the client has.
    // A query string makes a new module instance; held in a variable, it is not a path the type checker resolves.
    const anotherCopy = '../src/errors.js?another-copy';
    const other = (await import(anotherCopy)) as typeof import('../src/errors.js');
    const { isSnapEngageError } = await import('../src/errors.js');
    expect(other.SnapEngageError).not.toBe(SnapEngageError);
    const error = new other.SnapEngageError({ kind: 'auth', message: 'HTTP 401', operation: 'GET /x', url: 'https://example.com/x' });
    expect(error instanceof SnapEngageError).toBe(true);
    expect(isSnapEngageError(error)).toBe(true);
    expect(new SnapEngageError({ kind: 'auth', message: 'm', operation: 'o', url: 'u' }) instanceof other.SnapEngageError).toBe(true);
    // Not a look-alike, nor any other error, nor a value whose getter throws.
    expect(isSnapEngageError({ name: 'SnapEngageError', kind: 'auth', message: 'm' })).toBe(false);
    expect(new Error('x') instanceof SnapEngageError).toBe(false);
    expect(isSnapEngageError(null)).toBe(false);
    expect(isSnapEngageError('SnapEngageError')).toBe(false);
    // The brand stays out of what an app logs.
    expect(Object.keys(error)).not.toContain(String(Symbol.for('snapengage-client.SnapEngageError')));
    expect(JSON.stringify(error)).not.toContain('snapengage-client.SnapEngageError');
  });

  it("keeps instanceof of an app's own subclass to that subclass", () => {
    class RetryableError extends SnapEngageError {}
    const init = { kind: 'server', message: 'HTTP 503', operation: 'GET /x', url: 'https://example.com/x' } as const;
    const sub = new RetryableError(init);
    expect(sub instanceof RetryableError).toBe(true);
    expect(sub instanceof SnapEngageError).toBe(true);
    // The static hasInstance is inherited: every SnapEngageError passed for an instance of any subclass.
    expect(new SnapEngageError(init) instanceof RetryableError).toBe(false);
    expect(new Error('x') instanceof RetryableError).toBe(false);
  });
});

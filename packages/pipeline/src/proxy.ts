// Corporate HTTP proxies for the loader's requests. Node's fetch ignores HTTPS_PROXY / HTTP_PROXY / NO_PROXY (Node 20;
// Node 22.21+ and 24 only with NODE_USE_ENV_PROXY=1), so behind a proxy that is the only way out every request failed
// with "cannot reach". When one of those variables is set, requests go through undici's EnvHttpProxyAgent (the
// proxy Node's own fetch would use), as curl and npm do; when none is, nothing changes. A loopback base URL (the
// sandbox) always goes direct, as in Go's net/http: a proxy cannot reach this machine's loopback, and the client sends
// to its base URL's origin only, so the decision is made once, for the run.
import type { Dispatcher } from 'undici';
import { ConfigError } from './errors.js';
import { isLoopbackUrl } from './loopback.js';

export interface ProxySettings {
  dispatcher: Dispatcher;
  /** For messages: the variable that names the proxy for http(s) targets, never its URL (it may carry a password). */
  httpsVar: string;
  httpVar: string | undefined;
  /** NO_PROXY as given to the dispatcher, so a message does not blame the proxy for a host that went direct. */
  noProxy: string;
}

type Env = Record<string, string | undefined>;

/** The variable that is set, lower case first (as curl and undici read them), and its value. */
function pick(env: Env, lower: string): [string, string] | undefined {
  for (const name of [lower, lower.toUpperCase()]) {
    const value = env[name]?.trim();
    if (value) return [name, value];
  }
  return undefined;
}

function checkProxyUrl(name: string, given: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(given)?.[1];
  // "proxy.corp:8080" (no scheme) is read as http://, as curl, Go and Python read it: undici took it for a URL of
  // scheme "proxy.corp:" and failed on the first request, and such machine-wide values are common.
  const value = scheme ? given : `http://${given}`;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    // Only the scheme is shown: the rest may hold a password.
    const what = url && scheme ? `a ${scheme.toLowerCase()}:// proxy` : 'not a valid URL (check the host and port)';
    throw new ConfigError(`${name} is ${what}: write it as http://host:port (or http://user:password@host:port); only HTTP proxies are supported; or unset ${name} to connect directly`);
  }
  // undici decodes the user part for its Proxy-Authorization header: a `%` that starts no escape (a password with
  // a `%` in it, written as is) threw "URI malformed" from the run, naming no variable. Not echoed: it is a password.
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw new ConfigError(`${name} has a user or password with a "%" that is not followed by two hex digits: percent-encode it in the URL (% as %25, @ as %40, : as %3A)`);
  }
  // A path, query or fragment (`http://proxy.corp:8080/x`) means nothing to a CONNECT proxy and curl and Go ignore it;
  // undici refused it with "invalid url" (naming no variable), so it is dropped here, the user part kept.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    url.pathname = '/';
    url.search = '';
    url.hash = '';
    return url.href;
  }
  return value;
}

/**
 * The proxy the environment (the process, then .env) asks for; undefined when HTTPS_PROXY and HTTP_PROXY (either case)
 * are unset or empty, or for a loopback `baseUrl`, whose requests go direct (so a machine-wide proxy variable the
 * loader cannot use, socks5:// say, does not stop a run against the sandbox).
 */
export async function proxyFromEnv(env: Env = process.env, baseUrl?: string): Promise<ProxySettings | undefined> {
  if (baseUrl !== undefined && isLoopbackUrl(baseUrl)) return nodeFetchTakesEnvProxy() ? await direct() : undefined;
  const http = pick(env, 'http_proxy');
  const https = pick(env, 'https_proxy');
  if (!http && !https) return undefined;
  const noProxy = pick(env, 'no_proxy');
  if (noProxy?.[1] === '*') return undefined;
  // HTTPS_PROXY first: it is the one the real API's (https) requests take.
  const httpsProxy = https ? checkProxyUrl(https[0], https[1]) : undefined;
  const httpProxy = http ? checkProxyUrl(http[0], http[1]) : undefined;
  // Loaded only here: undici takes ~300 ms to import, which a run without a proxy should not pay.
  const { EnvHttpProxyAgent } = await import('undici');
  const dispatcher = new EnvHttpProxyAgent({
    // All three passed, '' for none: undici reads process.env for one it is not given, which is not the env of a run
    // given one (RunOptions.env), and not checked here (a blank HTTPS_PROXY threw "Invalid URL"). So what was checked
    // is what is used. Without HTTPS_PROXY, https requests take HTTP_PROXY (undici's and Node 24's reading).
    httpProxy: httpProxy ?? '',
    httpsProxy: httpsProxy ?? '',
    noProxy: noProxy?.[1] ?? '',
  });
  return { dispatcher, httpsVar: (https ?? http)![0], httpVar: http?.[0], noProxy: noProxy?.[1] ?? '' };
}

/**
 * Whether Node's own fetch routes by the process's proxy variables: NODE_USE_ENV_PROXY=1 or --use-env-proxy (Node
 * 22.21+ and 24; Node 20 has neither and ignores them). It then sends loopback requests to the proxy too, unless
 * NO_PROXY lists them: a run against the sandbox went through the proxy, or failed where the proxy is out of reach.
 */
function nodeFetchTakesEnvProxy(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return Boolean(process.env.NODE_USE_ENV_PROXY) || flags.includes('--use-env-proxy');
}

/** Settings that send every request direct (noProxy '*': no message blames a proxy), past Node's own proxy support. */
async function direct(): Promise<ProxySettings> {
  const { Agent } = await import('undici');
  return { dispatcher: new Agent(), httpsVar: 'HTTPS_PROXY', httpVar: undefined, noProxy: '*' };
}

/** fetch through the proxy: Node's own fetch with undici's dispatcher (a non-standard RequestInit field). */
export function proxiedFetch(proxy: ProxySettings): (request: Request) => Promise<Response> {
  return (request) => globalThis.fetch(request, { dispatcher: proxy.dispatcher } as RequestInit);
}

/** The variable whose proxy a request to `url` took, for an error's fix; undefined: it went direct. */
export function proxyVarFor(proxy: ProxySettings | undefined, url: string | undefined): string | undefined {
  if (!proxy || !url || goesDirect(proxy.noProxy, new URL(url))) return undefined;
  return url.startsWith('https:') ? proxy.httpsVar : proxy.httpVar;
}

/**
 * Whether NO_PROXY sends a request to `url` direct, decided as undici's EnvHttpProxyAgent decides it (its
 * #shouldProxy is private): entries split on commas and spaces, `*` alone for every host, a leading `.` or `*.`
 * dropped, the host itself or any subdomain, and the port when the entry names one.
 */
function goesDirect(noProxy: string, url: URL): boolean {
  if (noProxy === '*') return true;
  // `host` keeps an IPv6 address's brackets, as undici compares it.
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(url.port, 10) || (url.protocol === 'https:' ? 443 : 80);
  return noProxy.split(/[,\s]/).some((entry) => {
    if (entry === '') return false;
    const parsed = /^(.+):(\d+)$/.exec(entry);
    const host = (parsed ? parsed[1]! : entry).replace(/^\*?\./, '').toLowerCase();
    // Port 0 (`host:0`) counts as no port, as undici reads it.
    const entryPort = parsed ? Number.parseInt(parsed[2]!, 10) : 0;
    if (entryPort !== 0 && entryPort !== port) return false;
    return hostname === host || hostname.endsWith(`.${host}`);
  });
}

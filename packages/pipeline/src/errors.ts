// Every failure the user can act on becomes ONE line (what, where, how to fix) and an exit code. Messages never carry
// secrets: URLs come from the client already redacted, and credentials are only ever named by their env var.
import { describeResponseTooLarge, resources, securitySchemes, type LoadableResource, type ResourceName, type SnapEngageErrorKind } from 'snapengage-client';
import { isLoopbackUrl } from './loopback.js';
import { pluralNoun } from './plural-noun.js';

/** The loader's own variable for the API origin (read in plan.ts); not part of any resource's catalog entry. */
const BASE_URL_ENV = 'SNAPENGAGE_BASE_URL';

/** Base class of the loader's errors; `message` is one line meant for a human. */
export class PipelineError extends Error {
  override name = 'PipelineError';
  /** Process exit code the CLI uses: 1 = the run failed, 2 = bad usage. */
  readonly exitCode: number = 1;
  /**
   * Resources of the failed run that were committed before it failed (each commits in a transaction of its own), in
   * commit order; empty when nothing of the run was loaded. Tells a partial failure from a total one without reading
   * the message. Set by runPipeline (withCommitted).
   */
  readonly committedResources: readonly string[] = [];
  /**
   * The failed run's load id, once it had one (it is drawn when the DuckDB file is open): the `failed` rows it left
   * in `_pipeline_loads`, and the rows of the resources it committed, carry it. Undefined for a run refused before
   * (a config error, a missing variable, the file locked). Set by runPipeline (withCommitted).
   */
  readonly loadId: string | undefined = undefined;
  /**
   * The run before this one on the file, when it had not finished (killed, crashed) and this run took its lock over,
   * as LoadInfo's `notes.interruptedRun` says it: a failed run releases the lock, so no later run could say it.
   * Set by runPipeline (withCommitted).
   */
  readonly interruptedRun: InterruptedRun | undefined = undefined;
}

/** A run that ended without finishing, found by the next run on the file (its run lock was left behind). */
export type InterruptedRun = Readonly<{ pid: number; host: string; startedAt: string; refresh?: readonly string[] }>;

/**
 * The error a run throws, told which of its resources were committed before it (see committedResources), the
 * run's load id when it had one, and the unfinished run before it when there was one (see interruptedRun).
 */
export function withCommitted<E extends PipelineError>(error: E, committed: readonly string[], loadId?: string, interruptedRun?: InterruptedRun): E {
  // Assigned after construction: the error may be any subclass, built wherever it was thrown.
  (error as { committedResources: readonly string[] }).committedResources = Object.freeze([...committed]);
  if (loadId !== undefined) (error as { loadId: string | undefined }).loadId = loadId;
  if (interruptedRun !== undefined) (error as { interruptedRun: InterruptedRun | undefined }).interruptedRun = interruptedRun;
  return error;
}

/** Bad configuration or a missing environment variable; detected before any request. */
export class ConfigError extends PipelineError {
  override name = 'ConfigError';
}

/** Wrong command line (unknown resource, bad flag); the CLI exits 2. */
export class UsageError extends PipelineError {
  override name = 'UsageError';
  override readonly exitCode = 2;
}

/**
 * What an ExtractError is about: the client's SnapEngageErrorKind of the failed request, `end_day` when the API reads
 * the end date as exclusive and the config does not say so, `unknown` for an error that is not the client's.
 */
export type ExtractErrorKind = SnapEngageErrorKind | 'end_day' | 'unknown';

/** A request to SnapEngage failed after the client's retries. */
export class ExtractError extends PipelineError {
  override name = 'ExtractError';
  constructor(
    message: string,
    readonly resource: string,
    readonly kind: ExtractErrorKind,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What went wrong with the DuckDB file, for code that acts on it (a scheduler retries `locked` later, not `corrupt`). */
export type DestinationErrorCode = 'locked' | 'changed' | 'disk_full' | 'not_writable' | 'not_found' | 'out_of_memory' | 'corrupt' | 'io' | 'schema';

/**
 * The DuckDB file could not be opened or written (locked, disk full, corrupt); `code` says which. Built as
 * `new DestinationError(message, { code, path, cause })`: the options object keeps `(message, { cause })`, the
 * constructor apps had before `code` existed, working (code `io`, path unknown).
 */
export class DestinationError extends PipelineError {
  override name = 'DestinationError';
  readonly code: DestinationErrorCode;
  /** File or directory concerned ('' when not known). */
  readonly path: string;
  constructor(message: string, options: { code?: DestinationErrorCode | undefined; path?: string | undefined; cause?: unknown } = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.code = options.code ?? 'io';
    this.path = options.path ?? '';
  }
}

/** The run was cancelled through its AbortSignal. */
export class AbortedError extends PipelineError {
  override name = 'AbortedError';
}

interface ClientErrorShape {
  /** Any string passes isClientError; the kinds are this package's client dependency's (^0.1.0). */
  kind: SnapEngageErrorKind;
  status?: number;
  url?: string;
  operation?: string;
  requestId?: string;
  retries?: number;
  bodyExcerpt?: string;
  causeSummary?: string;
  /** The client's own word that a body was over maxResponseBytes (see SnapEngageError.responseTooLarge). */
  responseTooLarge?: { limit: number; announcedLength?: number; contentEncoding?: string };
  message: string;
}

/** A snapengage-client error, by shape (a duplicated install of the client would have its own class). */
export function isClientError(error: unknown): error is ClientErrorShape {
  return error instanceof Error && typeof (error as { kind?: unknown }).kind === 'string' && error.name === 'SnapEngageError';
}

function credentialHint(resourceName: string): string {
  const resource = resources[resourceName as ResourceName];
  const scheme = resource?.credential ? securitySchemes[resource.credential] : undefined;
  if (!scheme) return 'check your credentials';
  return `check ${scheme.env} (${scheme.howToGet})`;
}

/**
 * The id env vars a resource's request is built from (`params` read from env), its own and its parents' (a child's
 * ids come from its parent's records), taken from the catalog; the union over every resource when the name is unknown.
 */
function idEnvVars(resourceName: string): string[] {
  const chain: LoadableResource[] = [];
  let current: LoadableResource | undefined = resources[resourceName as ResourceName];
  for (let depth = 0; current && depth < 10; depth++) {
    chain.push(current);
    current = current.parent ? resources[current.parent as ResourceName] : undefined;
  }
  const from = chain.length > 0 ? chain : Object.values(resources);
  const names = new Set<string>();
  for (const resource of from) {
    for (const param of Object.values(resource.params)) if (param.from === 'env') names.add(param.env);
  }
  return [...names];
}

/** The env vars that shape a resource's request parameters: its ids and its incremental start date. */
function parameterEnvVars(resourceName: string): string[] {
  const known = resources[resourceName as ResourceName] as LoadableResource | undefined;
  const from = known ? [known] : Object.values(resources);
  const names = new Set(idEnvVars(resourceName));
  for (const resource of from) {
    if (resource.incremental) names.add(resource.incremental.initialStartEnv);
    // Any other non-secret variable the resource reads also ends up in its parameters.
    for (const variable of resource.envVars) if (!variable.secret && variable.name !== resource.credentialEnv) names.add(variable.name);
  }
  return [...names];
}

function originOf(url: string | undefined): string {
  if (!url) return 'the SnapEngage API';
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** The detail of a client paging error ("<operation>: <detail> | <url>"), or undefined when it has another shape. */
function pagingDetail(error: ClientErrorShape): string | undefined {
  const prefix = error.operation ? `${error.operation}: ` : '';
  if (!error.message.startsWith(prefix)) return undefined;
  const detail = firstLine(error.message.slice(prefix.length)).split(' | ')[0]?.trim();
  return detail ? detail : undefined;
}

/** Turns a client error (or anything thrown while extracting) into one actionable line. */
/** The item of a comma list (SNAPENGAGE_WIDGET_ID) a failed request was for; `othersAnswered`: another item got a page. */
export interface WidgetContext {
  /** What one value of the list is, from the spec (`item` of the each param): `widget`. */
  item: string;
  env: string;
  value: string;
  position: number;
  of: number;
  othersAnswered: boolean;
}

export function describeExtractError(error: unknown, resourceName: string, widget?: WidgetContext): PipelineError {
  if (error instanceof PipelineError) return error;
  if (!isClientError(error)) {
    const text = error instanceof Error ? error.message : String(error);
    return new ExtractError(`Extracting ${resourceName} failed: ${firstLine(text)}`, resourceName, 'unknown', { cause: error });
  }
  // No URL: refused before sending (a path parameter that cannot be one segment), so there is no "at".
  const at = error.url === '' ? '' : ` at ${error.url ?? originOf(error.url)}`;
  const where = `${error.operation ?? resourceName}${error.status ? ` (HTTP ${error.status})` : ''}${at}`;
  const retried = error.retries ? ` after ${error.retries} ${error.retries === 1 ? 'retry' : 'retries'}` : '';
  const requestId = error.requestId ? ` [request id ${error.requestId}]` : '';
  // What the API said about an error status (one line, credentials already masked by the client); a 2xx body that
  // failed to parse is data, not an explanation, so it is left out.
  const said = error.bodyExcerpt && error.status !== undefined && error.status >= 400 ? `; the server said: ${firstLine(error.bodyExcerpt)}` : '';
  let fix: string;
  switch (error.kind) {
    case 'auth':
      fix = widget?.othersAnswered
        ? `refused for ${widgetItem(widget)} while other ${pluralNoun(widget.item)} of the list were answered: the credential may not reach that ${widget.item}; correct it or remove it from ${widget.env}`
        : `the credential was refused: ${credentialHint(resourceName)}${widget ? `; this request was for ${widgetItem(widget)}` : ''}`;
      break;
    case 'not_found':
      // The endpoint itself may be missing: a resource added to the spec that the server (or the sandbox) lacks.
      fix = widget?.othersAnswered
        ? `not found: ${widgetItem(widget)} is unknown to the API while other ${pluralNoun(widget.item)} of the list were answered: correct it or remove it from ${widget.env}`
        : `not found: check ${[...idEnvVars(resourceName), BASE_URL_ENV].join(' / ')}, and that the server has this endpoint (snapengage-sandbox emulates only the endpoints it was built with)${widget ? `; this request was for ${widgetItem(widget)}` : ''}`;
      break;
    case 'network': {
      // The cause tells a refused port from a TLS mismatch (https:// against an http port) or a DNS failure.
      const cause = error.causeSummary ? ` (${firstLine(error.causeSummary)})` : '';
      // A newcomer's local server is usually the sandbox, stopped or restarted on another port (its default
      // --port 0 picks a free one each time), with .env still naming the old one.
      // https:// against a plain-http port (the sandbox serves http): the TLS handshake got an HTTP answer.
      const plainHttp = error.url?.startsWith('https:') && /WRONG_VERSION_NUMBER|wrong version number|packet length too long/i.test(error.causeSummary ?? '');
      const local = plainHttp
        ? `: the server there speaks http, not https: use an http:// URL${isLoopbackUrl(error.url) ? ' (snapengage-sandbox serves http)' : ''}`
        : isLoopbackUrl(error.url)
          ? `: is the local server (snapengage-sandbox) running? It takes a new port at each start: use the SNAPENGAGE_BASE_URL it printed last (.env.sandbox in the READMEs, not your .env)`
          : ' and your network';
      // A body cut off (undici's "terminated": the headers had come) means a server was there and answered: naming it
      // unreachable sent users to restart a server that was up. A stopped one refuses the retries instead. A close or
      // reset before any answer is not that: a port of something else (an https-only server named as http://, a
      // proxy with nothing behind it) does it to every request, so it points at the URL, not at "retry later".
      const summary = error.causeSummary ?? '';
      // Out of descriptors for a socket (`connect EMFILE`): the server was never tried, so "cannot reach" and the
      // base URL sent users to a server that was fine. Which descriptor runs out first (a socket, a staged file,
      // DuckDB's) depends on timing, so this one says what the others say.
      // A port fetch blocks (the Fetch standard's bad ports, 6000, 10080, …) is refused before connecting: no server
      // to start, only another port to choose.
      if (/(^|← )bad port$/.test(summary)) {
        fix = `fetch refuses the port of ${originOf(error.url)} (one of the ports the Fetch standard blocks, such as 6000 and 10080): serve the API on another port and change ${BASE_URL_ENV}`;
        break;
      }
      if (TOO_MANY_OPEN_FILES.test(summary)) {
        fix = `too many open files: no descriptor was left for a connection to ${originOf(error.url)}${retried}${cause}: ${RAISE_OPEN_FILES}, then rerun`;
        break;
      }
      const dropped = /\bterminated\b/.test(summary);
      const unanswered = !dropped && /ECONNRESET|socket hang up|other side closed|UND_ERR_SOCKET/i.test(summary);
      fix = dropped
        ? `the connection to ${originOf(error.url)} was dropped${retried}${cause}: the server (or a proxy between) closed it mid-request: retry later; if it keeps happening, lower concurrency or rateLimit.requestsPerSecond`
        : unanswered
          ? `${originOf(error.url)} closed the connection without answering${retried}${cause}: check ${BASE_URL_ENV}: it may name a port that is not the API's (an https server as http://, a proxy with nothing behind it); if it happens only now and then, retry later`
          : `cannot reach ${originOf(error.url)}${retried}${cause}: check ${BASE_URL_ENV}${local}`;
      break;
    }
    case 'timeout':
      fix = `timed out${retried}: raise connection.timeoutMs or lower concurrency`;
      break;
    case 'rate_limited':
      fix = `rate limited${retried}: lower rateLimit.requestsPerSecond or concurrency in the pipeline config`;
      break;
    case 'server':
      fix = `server error${retried}: retry later`;
      break;
    case 'invalid_response': {
      // A redirect (http:// to https://, a moved host) is not followed by the client; its target is the fix.
      const redirect = error.status !== undefined && error.status >= 300 && error.status < 400
        ? /redirected \(HTTP \d+\) to (.+?); redirects are not followed/.exec(error.message)?.[1]
        : undefined;
      // Without a status it is the client's paging check (a next link to another origin, a repeated page, maxPages),
      // not a body it could not read: its own words say what is wrong, e.g. a sandbox reached as localhost whose
      // links name 127.0.0.1. Its message is "<operation>: <detail> | <url>".
      const paging = error.status === undefined ? pagingDetail(error) : undefined;
      // A body over the client's maxResponseBytes, told by the client's structured field, not its message (which
      // quotes the server's Content-Type or Location, so the words could be sent): named as the config option.
      const tooLarge = error.responseTooLarge;
      fix = tooLarge
        ? `the response body is larger than connection.maxResponseBytes=${tooLarge.limit} (${describeResponseTooLarge(tooLarge)}); reading stopped there: if the API really sent that much, raise connection.maxResponseBytes in the pipeline config`
        : redirect
        ? `the server redirected to ${redirect}, which is not followed so that credentials stay on the configured host: set ${BASE_URL_ENV} to that origin`
        : paging?.replace('set baseUrl', `set ${BASE_URL_ENV}`) ?? `the response was not the expected JSON${retried}: check ${BASE_URL_ENV} points at the SnapEngage API`;
      break;
    }
    case 'bad_request':
      fix = `the API refused the parameters: check ${parameterEnvVars(resourceName).join(' / ') || 'the pipeline config'}`;
      break;
    case 'config': {
      // A path parameter refused before sending (client's path-params.ts): its words are for an app passing a
      // record's id; here the id came from an env var (SNAPENGAGE_ORG_ID=..). Other config errors say their own fix.
      const vars = idEnvVars(resourceName);
      fix = /: the path parameter \w+ /.test(error.message) && vars.length > 0
        ? `${(pagingDetail(error) ?? firstLine(error.message)).replace(/; pass the \w+ of an existing record/, '')}: check ${vars.join(' / ')}`
        : firstLine(error.message);
      break;
    }
    case 'aborted':
      return new AbortedError(`Run cancelled while extracting ${resourceName}`, { cause: error });
    default:
      fix = firstLine(error.message);
  }
  return new ExtractError(`Extracting ${resourceName} failed: ${where}: ${fix}${said}${requestId}`, resourceName, error.kind, { cause: error });
}

/**
 * How Node and DuckDB say the process reached its open-file limit (`ulimit -n`, LimitNOFILE=). A run of 60 widgets
 * held 51 descriptors at its peak (sockets, staged files, DuckDB's); below that it failed as "please report this",
 * or as a run lock "taken by another run". Whole words, in the case Node and DuckDB write them: the messages quote paths,
 * and one under `systemfiles/` ("systEMFILEs") was read as this whatever had failed.
 */
export const TOO_MANY_OPEN_FILES = /\bE[MN]FILE\b|\b[Tt]oo many open files\b/;
export const RAISE_OPEN_FILES = 'raise the open-file limit (ulimit -n 1024 before the command, LimitNOFILE= in a systemd unit; a run needs 64 or more)';

/**
 * What a destination message says when a failed run left the file as it was: not so once a resource committed. As
 * each place words it: in brackets ('rerun (nothing of this run was committed)'), after a ';' or ',', or first in a
 * hint ('the database is unchanged; if a map step…'), so taking it out leaves no '()' or ':;' behind. The commit's
 * own hints (disk full, file too large, out of memory) say 'nothing of this load was committed': the same claim.
 */
const NOTHING_COMMITTED = /\s*\(nothing of this (?:run|load) was (?:committed|loaded)\)|[;,]\s*(?:nothing of this (?:run|load) was (?:committed|loaded)|the database is unchanged)|(?:nothing of this (?:run|load) was (?:committed|loaded)|the database is unchanged)[;,]\s*/g;

/**
 * A commit that failed after other resources of the run committed theirs (each resource commits in a transaction of
 * its own): the message names those instead of saying nothing was loaded. `cause` is the error as it was.
 */
export function afterPartialCommit(error: PipelineError, committed: readonly string[], refreshRest?: readonly string[]): PipelineError {
  if (committed.length === 0 || !(error instanceof DestinationError)) return error;
  const was = `${committed.join(', ')} of this run ${committed.length === 1 ? 'was' : 'were'} committed before it`;
  // `refreshRest`: a refresh's resources not committed. A plain rerun would load them into their old tables.
  const said = refreshRest === undefined
    ? `${was} (a rerun loads the rest)`
    : `${was} (refreshed); to refresh the rest, run with --refresh --resources ${refreshRest.join(',')} (runPipeline's refresh: true)`;
  return new DestinationError(`${error.message.replace(NOTHING_COMMITTED, '')}; ${said}`, { code: error.code, path: error.path, cause: error });
}

export function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line.trim();
}

/** `widget 0000… (item 12 of 300 in SNAPENGAGE_WIDGET_ID)`: with hundreds of ids, which one it is. */
function widgetItem(widget: WidgetContext): string {
  return `${widget.item} ${widget.value} (item ${widget.position} of ${widget.of} in ${widget.env})`;
}

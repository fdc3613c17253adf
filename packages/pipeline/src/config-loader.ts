// Finds the PipelineConfig the CLI runs: `--config <file>`, else `src/pipeline.ts` when it exists, else every
// loadable resource whose required env vars are all set. TS configs run through tsx's tsImport: no build step.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resourceNames, resources } from 'snapengage-client';
import type { PipelineConfig } from './config.js';
import { envValue, whereToSetEnv, type Env } from './env.js';
import { ConfigError, RAISE_OPEN_FILES, TOO_MANY_OPEN_FILES, UsageError } from './errors.js';
import { moduleUrl, requireHere } from './module-location.js';
import { resourcesWithEnv } from './plan.js';
import { keepTsxCacheOffUnusableTmpdir } from './tsx-cache.js';

export const DEFAULT_CONFIG_FILE = 'src/pipeline.ts';

export interface LoadedConfig {
  config: PipelineConfig;
  /** Absolute path of the module, or undefined for the env-derived default. */
  file: string | undefined;
}

/** The config `snapengage-pipeline run` would run from `cwd` with `--config <configFlag>` (see the top of this file). */
export async function loadPipelineConfig(configFlag: string | undefined, env: Env, cwd: string = process.cwd()): Promise<LoadedConfig> {
  const file = configFlag !== undefined ? resolve(cwd, configFlag) : resolve(cwd, DEFAULT_CONFIG_FILE);
  if (!existsSync(file)) {
    if (configFlag !== undefined) throw new UsageError(`--config ${configFlag}: file not found (looked at ${file})`);
    return { config: defaultConfig(env), file: undefined };
  }
  let module: Record<string, unknown>;
  try {
    if (/\.[cm]?js$/.test(file)) {
      // Plain JavaScript needs no transpiler; tsx's loader costs ~70 ms of startup on every run.
      module = (await import(javascriptUrl(file))) as Record<string, unknown>;
    } else {
      // tsx caches its transforms in $TMPDIR/tsx-<uid> and failed the import when it could not create that
      // directory: a container with a read-only root filesystem, or a TMPDIR that does not exist. The cache saves
      // nothing measurable on a config of a few files, so the loader writes nowhere but beside the DuckDB file.
      // Read when tsx's loader starts (below): set before it. A user's own TSX_DISABLE_CACHE is left as it is, and
      // ours removed once the config is loaded: an app that loads its config through this function keeps its
      // process.env (and the children it starts) as they were.
      const setHere = process.env.TSX_DISABLE_CACHE === undefined;
      if (setHere) process.env.TSX_DISABLE_CACHE = '1';
      try {
        // A hooks thread the host started copied process.env before the line above: see tsx-cache.ts.
        keepTsxCacheOffUnusableTmpdir();
        module = await typescriptModule(file);
      } finally {
        if (setHere) delete process.env.TSX_DISABLE_CACHE;
      }
    }
  } catch (error) {
    // One line, but with the reason: a syntax error's first line is only "Transform failed with 1 error:", and the
    // next ones say where (file:line:column) and what.
    // Whatever the module threw: `throw null` or `throw 42` has no message (reading one crashed the loader).
    const thrown = error instanceof Error ? error.message : typeof (error as { message?: unknown } | null)?.message === 'string' ? (error as { message: string }).message : String(error);
    const lines = thrown.split('\n').map((l) => l.trim()).filter(Boolean);
    // A config outside the project cannot import the project's packages: node resolves them from the config's folder.
    const missing = /Cannot find (?:module|package) '([^']+)'/.exec(lines[0] ?? '')?.[1];
    // A relative or absolute import is a file of the user's, not a package: it does not exist.
    const relative = missing !== undefined && /^(?:\.{1,2}[\\/]|[\\/]|file:|[A-Za-z]:[\\/])/.test(missing);
    // tsx cuts a path at its first "?" (as a query): a TypeScript config in such a directory cannot load, however right.
    const tsUnderQuestionMark = file.includes('?') && !/\.[cm]?js$/.test(file);
    const moveProject = 'move the project to a directory without "?"';
    if (relative && tsUnderQuestionMark) {
      // On Node 24 tsx cannot find even the config itself: it asks for `<file>?namespace=…`, which is no import of
      // the user's; naming it sent users looking for a file they never wrote.
      if ([file, realPath(file)].includes(missing.split('?namespace=')[0]!)) {
        throw new ConfigError(`Cannot load pipeline config ${file}: tsx (the TypeScript loader) cannot load it from a directory whose path has a "?"; ${moveProject}`);
      }
      // "does not exist" sent users looking for a file that is there.
      throw new ConfigError(`Cannot load pipeline config ${file}: it imports ${missing}, which tsx (the TypeScript loader) cannot find in a directory whose path has a "?"; ${moveProject}`);
    }
    // Node 22.22+ with tsx's in-thread hooks: a relative import there is loaded untransformed, as JavaScript, and
    // fails on its first TypeScript or ESM syntax ("Unexpected token 'export'") in a file that is right.
    if (tsUnderQuestionMark && (error as { name?: unknown } | null)?.name === 'SyntaxError') {
      throw new ConfigError(`Cannot load pipeline config ${file}: ${lines[0]}: tsx (the TypeScript loader) does not compile files in a directory whose path has a "?"; ${moveProject}`);
    }
    if (relative) {
      throw new ConfigError(`Cannot load pipeline config ${file}: it imports ${missing}, which does not exist`);
    }
    if (missing !== undefined) {
      throw new ConfigError(`Cannot load pipeline config ${file}: it imports ${missing}, which is not installed where the config is; keep the config inside the project that depends on it (or run npm install there)`);
    }
    // Reading the loader's own modules can meet the open-file limit first (ulimit -n 36): say which limit to raise.
    if (TOO_MANY_OPEN_FILES.test(lines[0] ?? '')) throw new ConfigError(`Cannot load pipeline config ${file}: ${lines[0]}: ${RAISE_OPEN_FILES}`);
    throw new ConfigError(`Cannot load pipeline config ${file}: ${lines.slice(0, 3).join(' ') || String(error)}`);
  }
  const config = pickConfig(module);
  if (!config) {
    // A Promise or a function is a config not made yet: say so, rather than that it has no `resources`.
    const kind = exportedCandidates(module).map(exportedKind).find((k) => k !== undefined);
    if (kind) throw new ConfigError(`${file} exports ${kind}, not a pipeline config object: ${kind === 'a Promise' ? 'await it in the module (`export default await …`)' : 'export what it returns (`export default makeConfig()`)'}`);
    const exported = exportedObject(module);
    if (exported) {
      const keys = Object.keys(exported);
      throw new ConfigError(`${file}: the exported config has no \`resources\` object${keys.length ? ` (its keys: ${keys.join(', ')})` : ''}; e.g. \`definePipeline({ resources: { logs: true } })\``);
    }
    throw new ConfigError(`${file} must export a pipeline config: \`export default definePipeline({ resources: { logs: true } })\` (or \`export const pipeline = …\`)`);
  }
  return { config, file };
}

/** Per JavaScript config file: its content when last imported, and the URL it was imported by. */
const importedAs = new Map<string, { digest: string; url: string }>();

/**
 * The URL to import a JavaScript config by. Node keeps a module for the process's life, by URL: an app that loaded
 * its config again after an edit got the old one. A changed file gets a URL of its own (a query naming its content),
 * and a CommonJS one is let go from require's cache, which Node's import of it reads whatever the URL; an unchanged
 * one keeps its URL and so its module (the same object an app that imports it itself has, on a first load). Only the
 * config file is read anew, not what it imports. A TypeScript config is cached the same way by typescriptModule, where
 * each new tsImport (a changed file) loads it and its ES module imports anew (tsx's namespace is in their URLs; a
 * CommonJS one stays in require's cache).
 */
function javascriptUrl(file: string): string {
  const digest = contentDigest(file);
  if (digest === undefined) return pathToFileURL(file).href; // unreadable: the import says why
  // By the file's real path, which Node keys a module by: a symlinked folder (a deploy's `current`) swapped to another
  // release of the same config got the first release's module, and what it imported, from Node's cache of the link.
  const real = realPath(file);
  const last = importedAs.get(real);
  if (last?.digest === digest) return last.url;
  const realUrl = pathToFileURL(real).href;
  const next = last === undefined ? realUrl : `${realUrl}?content=${digest}`;
  if (last !== undefined) delete requireHere.cache[real];
  importedAs.set(real, { digest, url: next });
  return next;
}

/** Per TypeScript config file: its content when last imported, and the module that import gave. */
const typescriptLoaded = new Map<string, { digest: string; module: Record<string, unknown> }>();

/**
 * A TypeScript config, imported again only when its content changed. Each tsImport is a new tsx namespace: the
 * config and its ES module imports load anew, and what they hold stays in the process for good, with one more
 * module-loader hook on Node 20 (measured: ~0.15 MiB of RSS per load, and an app's own imports 1.4 → 3–5 ms after
 * 200–600 loads), so an app reloading an unchanged config every few minutes grew without end. An edited config loads
 * anew with its ES module imports, as before.
 */
async function typescriptModule(file: string): Promise<Record<string, unknown>> {
  const digest = contentDigest(file);
  // By real path, as javascriptUrl: the same config in another release (a swapped symlink) imports other files.
  const real = realPath(file);
  const last = typescriptLoaded.get(real);
  if (digest !== undefined && last?.digest === digest) return last.module;
  const { tsImport } = await import('tsx/esm/api');
  // Imported by its real path: Node's resolver keeps a link's real path for the process's life (its realpath cache).
  const module = (await tsImport(pathToFileURL(real).href, moduleUrl)) as Record<string, unknown>;
  if (digest !== undefined) typescriptLoaded.set(real, { digest, module });
  return module;
}

/** The file's path with its symlinks resolved, or the path as given when that fails (the import then says why). */
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** A short digest of a file's content, or undefined when it cannot be read (the import then says why). */
function contentDigest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
  } catch {
    return undefined;
  }
}

/** What a config module may export as its config, in order of preference. */
function exportedCandidates(module: Record<string, unknown>): unknown[] {
  // tsImport of a CommonJS-transpiled module can nest the default export one level deeper.
  return [module.default, (module.default as Record<string, unknown> | undefined)?.default, module.pipeline];
}

function exportedKind(candidate: unknown): string | undefined {
  if (typeof candidate === 'function') return 'a function';
  return typeof (candidate as { then?: unknown } | null)?.then === 'function' ? 'a Promise' : undefined;
}

/** The object the module exports as its config, whatever it holds. */
function exportedObject(module: Record<string, unknown>): Record<string, unknown> | undefined {
  return exportedCandidates(module).find((c): c is Record<string, unknown> => typeof c === 'object' && c !== null && !('default' in c && Object.keys(c).length === 1));
}

function pickConfig(module: Record<string, unknown>): PipelineConfig | undefined {
  return exportedCandidates(module).find((c): c is PipelineConfig => typeof c === 'object' && c !== null && typeof (c as PipelineConfig).resources === 'object');
}

/**
 * No config file: load every resource whose required env vars are all present. Nothing present → one error saying
 * what the catalog's first resource needs.
 */
export function defaultConfig(env: Env): PipelineConfig {
  const names = resourcesWithEnv(env);
  if (names.length === 0) {
    // The catalog's first resource is the spec's first loadable operation (the Logs API).
    const first = resources[resourceNames[0] as keyof typeof resources];
    const needed = first.envVars.filter((v) => v.required && envValue(env, v.name) === undefined).map((v) => `${v.name} (${v.description})`);
    throw new ConfigError(`No ${DEFAULT_CONFIG_FILE} and no resource has its environment variables set; for ${first.name} set ${needed.join(', ')}: ${whereToSetEnv(env, needed.length)}`);
  }
  return { resources: Object.fromEntries(names.map((name) => [name, true])) };
}

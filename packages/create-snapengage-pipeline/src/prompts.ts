// The questions, asked with @clack/prompts on injectable streams (tests drive them with PassThrough streams that
// pretend to be a TTY). Only answers not given as flags are asked. Cancelling (Ctrl-C / Esc) throws CancelledError
// before anything has been written; so does the end of the input (stdin from /dev/null or a finished pipe), which
// would otherwise leave a prompt waiting forever.
import type { Readable, Writable } from 'node:stream';
import * as p from '@clack/prompts';
import { defaultStartText, envVarsFor, withParents, type ResourceChoice } from './catalog.js';
import { CancelledError, InputEndedError } from './errors.js';
import { checkStartDate, type Answers, type PackageManager } from './options.js';
import { checkPackageName, checkTargetFree, resolveTarget } from './target.js';

export { CancelledError, InputEndedError };

export interface PromptContext {
  given: Partial<Answers>;
  defaults: Answers;
  catalog: readonly ResourceChoice[];
  packageManager: PackageManager;
  cwd: string;
  overwrite: boolean;
  input?: Readable;
  output?: Writable;
}

export type AskAnswers = (context: PromptContext) => Promise<Answers>;

/**
 * An AbortSignal that fires when `input` ends or closes. Clack cancels an open prompt on abort (and restores the
 * cursor), and a prompt started after the abort is cancelled at once. `stop` removes the listeners.
 */
function inputEndSignal(input: Readable | undefined): { signal: AbortSignal; ended: () => boolean; stop: () => void } {
  const controller = new AbortController();
  const source = input ?? process.stdin;
  const onEnd = () => controller.abort(new InputEndedError());
  if (source.readableEnded || source.destroyed) onEnd();
  source.once('end', onEnd);
  source.once('close', onEnd);
  return {
    signal: controller.signal,
    ended: () => controller.signal.aborted,
    stop: () => {
      source.off('end', onEnd);
      source.off('close', onEnd);
    },
  };
}

function checkDir(value: string | undefined, context: PromptContext): string | undefined {
  try {
    const target = resolveTarget(value ?? '', context.cwd);
    checkTargetFree(target, context.overwrite);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A comma list typed with another separator (`w1 w2`, `w1;w2`) or quoted: the pipeline refuses it at its first run
 * (an item with a space, a ";" or a quote), so it is re-asked here, while the user is still at the question.
 */
export function listProblem(value: string | undefined): string | undefined {
  const items = (value ?? '').split(',').map((item) => item.trim());
  // Only commas (`,`): the pipeline refuses it as holding no item, where an empty answer leaves the variable unset.
  if ((value ?? '').trim() !== '' && items.every((item) => item === '')) return 'no id between the commas: give one or more ids (e.g. abc-123,def-456), or leave it empty';
  const odd = items.find((item) => /[\s;"'`]/.test(item));
  return odd === undefined ? undefined : `separate the ids with commas only, without quotes (e.g. abc-123,def-456); got ${JSON.stringify(odd)}`;
}

/**
 * A credential pasted with its quotes (`"abc123"`, from a .env line or the docs): .env quotes the value itself, so they
 * would be part of it and sent with the token. The message never repeats the value: it may be a secret.
 */
export function quotedProblem(value: string | undefined): string | undefined {
  const text = (value ?? '').trim();
  const quotes = ['"', "'", '`'];
  const quoted = text.length >= 2 && quotes.some((quote) => text.startsWith(quote) && text.endsWith(quote));
  if (quoted) return 'type or paste the value without the quotes around it (.env quotes it itself)';
  // .env has no escapes inside quotes, so a value holding all three kinds cannot be written there: found only when
  // writing, it failed the run after every question, and the answers were lost.
  if (quotes.every((quote) => text.includes(quote))) {
    return "this value holds ', \" and ` together, which .env cannot quote: leave it empty here and set it in the environment";
  }
  return undefined;
}

function resourceHint(choice: ResourceChoice): string {
  const needs = [choice.credentialEnv, choice.parent ? `loads with ${choice.parent}` : null].filter(Boolean);
  return needs.length > 0 ? `${choice.description} (${needs.join('; ')})` : choice.description;
}

export const askWithClack: AskAnswers = async (context) => {
  const inputEnd = inputEndSignal(context.input);
  try {
    return await ask(context, inputEnd.signal, inputEnd.ended);
  } finally {
    inputEnd.stop();
  }
};

async function ask(context: PromptContext, signal: AbortSignal, inputEnded: () => boolean): Promise<Answers> {
  const { given, defaults, catalog } = context;
  // Each question gets a signal of its own, linked to `signal` only while it is open: clack adds an abort listener to
  // the signal it is given and never removes it, so one signal shared by the 11 or more questions of a run printed a
  // MaxListenersExceededWarning (a "memory leak") in the middle of the prompts.
  const question = async <T>(show: (io: { input?: Readable; output?: Writable; signal: AbortSignal }) => Promise<T>): Promise<Exclude<T, symbol>> => {
    const own = new AbortController();
    const forward = () => own.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    try {
      const value = await show({ input: context.input, output: context.output, signal: own.signal });
      if (p.isCancel(value)) throw inputEnded() ? new InputEndedError() : new CancelledError();
      return value as Exclude<T, symbol>;
    } finally {
      signal.removeEventListener('abort', forward);
    }
  };
  p.intro('create-snapengage-pipeline', { input: context.input, output: context.output });

  // A typed or pasted answer loses the spaces around it (as create-vite's): kept, they named a directory "  x " and, as
  // no package name may hold a space, asked for another name. A flag is taken as given: its quotes were deliberate.
  const dir =
    given.dir ??
    (
      await question((io) =>
        p.text({
          ...io,
          message: 'Project directory?',
          placeholder: defaults.dir,
          defaultValue: defaults.dir,
          validate: (value) => checkDir(value?.trim() || defaults.dir, context),
        }),
      )
    ).trim();

  // As create-vite: a directory name npm refuses (`My Pipeline`) stays the directory's name; package.json gets one
  // asked for here, a valid one made from it by default.
  const target = resolveTarget(dir || defaults.dir, context.cwd);
  const packageName =
    target.nameDerived === undefined
      ? undefined
      : await question((io) =>
          p.text({
            ...io,
            message: `Package name for package.json? (${target.nameDerived})`,
            placeholder: target.name,
            defaultValue: target.name,
            validate: (value) => (value ? (checkPackageName(value) ?? undefined) : undefined),
          }),
        );

  const resources =
    given.resources ??
    (await question((io) =>
      p.multiselect<string>({
        ...io,
        message: 'Which resources should it load? (space to toggle)',
        options: catalog.map((c) => ({ value: c.name, label: c.name, hint: resourceHint(c) })),
        initialValues: defaults.resources,
        required: true,
      }),
    ));

  const names = withParents(resources, catalog);
  const incremental = catalog.some((c) => names.includes(c.name) && c.incremental);
  let startDate = given.startDate ?? defaults.startDate;
  if (given.startDate === undefined && incremental) {
    const defaultStart = defaultStartText(catalog.filter((c) => names.includes(c.name))) ?? 'the default';
    const value = await question((io) =>
      p.text({
        ...io,
        message: `First day to load (YYYY-MM-DD, a day in UTC)? Empty: ${defaultStart}`,
        placeholder: defaultStart,
        // Spaces around a pasted day are not part of it (they were refused as "not a day YYYY-MM-DD").
        validate: (v) => (v?.trim() ? (checkStartDate(v.trim())?.replace('--start-date ', '') ?? undefined) : undefined),
      }),
    );
    startDate = value?.trim() ? value.trim() : null;
  }

  let credentials = given.credentials ?? defaults.credentials;
  if (given.credentials === undefined) {
    const now = await question((io) =>
      p.select<'now' | 'later'>({
        ...io,
        message: 'Enter credentials now? They are written only to the project’s gitignored .env',
        options: [
          { value: 'later', label: 'Later', hint: 'fill in .env from .env.example' },
          { value: 'now', label: 'Now' },
        ],
        initialValue: 'later',
      }),
    );
    if (now === 'now') {
      credentials = {};
      // The start date was asked above and lives in src/pipeline.ts.
      const startDateEnvs = new Set(catalog.filter((c) => names.includes(c.name)).map((c) => c.startDateEnv));
      for (const v of envVarsFor(names, catalog).filter((e) => !startDateEnvs.has(e.name))) {
        const message = `${v.name}${v.required ? '' : ' (optional)'}: ${v.description}`;
        const value = v.secret
          ? await question((io) => p.password({ ...io, message, mask: '•', validate: quotedProblem }))
          : await question((io) => p.text({ ...io, message, placeholder: v.required ? '' : 'leave empty to skip', validate: (text) => quotedProblem(text) ?? (v.list ? listProblem(text) : undefined) }));
        credentials[v.name] = (value ?? '').trim();
      }
    }
  }

  const install =
    given.install ??
    (await question((io) => p.confirm({ ...io, message: `Install dependencies with ${context.packageManager}?`, initialValue: defaults.install })));
  const git = given.git ?? (await question((io) => p.confirm({ ...io, message: 'Initialize a git repository?', initialValue: defaults.git })));

  return { dir: dir || defaults.dir, resources, startDate, credentials, install, git, ...(target.nameDerived === undefined ? {} : { packageName: packageName || target.name }) };
}

export function cancelMessage(output?: Writable): void {
  p.cancel('Cancelled; nothing was written.', { output });
}

export function outroMessage(message: string, output?: Writable): void {
  p.outro(message, { output });
}

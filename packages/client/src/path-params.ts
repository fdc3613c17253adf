// Path parameters come from an app's data (a case id from a webhook, an org id from a config file). openapi-fetch
// encodes each value as one segment, but it leaves a missing one as the literal `{name}`, and the URL parser drops
// the dot segments `.` and `..`: `/api/v1/chat/poll/..` goes out as `/api/v1/chat/`, another endpoint than the
// operation the call names, with that operation's credential. An empty value (the spec's `minLength: 1`) asks for
// the parent path too. These are refused before anything is sent.
import { SnapEngageError } from './errors.js';

/** Why `value` cannot be one path segment (`is missing`, `is empty`, a dot segment), or undefined when it can. */
export function pathValueProblem(value: unknown): string | undefined {
  if (value === undefined || value === null) return 'is missing';
  if (String(value) === '') return 'is empty';
  if (String(value) === '.' || String(value) === '..') return `is "${String(value)}", which the URL would resolve to another path`;
  return undefined;
}

/** Throws a `config` SnapEngageError naming the first path parameter of `template` that cannot be one path segment. */
export function checkPathParams(operation: string, template: string, pathParams: Record<string, unknown> | undefined): void {
  for (const match of template.matchAll(/\{([^}]+)\}/g)) {
    const name = match[1] as string;
    const problem = pathValueProblem(pathParams?.[name]);
    if (problem !== undefined) {
      throw new SnapEngageError({
        kind: 'config',
        operation,
        url: '',
        message: `${operation}: the path parameter ${name} ${problem}; pass the ${name} of an existing record (nothing was sent)`,
      });
    }
  }
}

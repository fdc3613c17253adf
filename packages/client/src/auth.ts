// Auth per operation, from the spec's security requirements (generated/catalog.ts): each request carries
// exactly the credentials its operation lists, where the spec puts them, and nothing else.
import { apiOperations, securitySchemes, type CredentialOptions, type OperationInfo } from '../../../generated/catalog.js';
import { SnapEngageError } from './errors.js';

/** A value per credential option of the spec's security schemes. */
export type Credentials = CredentialOptions;

/** The credential options' values, by the security schemes of the spec (a scheme added to the spec is picked up too). */
export function credentialsOf(options: CredentialOptions): Credentials {
  const credentials: Record<string, string | undefined> = {};
  for (const scheme of Object.values(securitySchemes)) credentials[scheme.option] = (options as Record<string, string | undefined>)[scheme.option];
  return credentials as Credentials;
}

/** Headers that carry a credential in some security scheme of the spec. */
export const CREDENTIAL_HEADERS: readonly string[] = Object.values(securitySchemes).filter((s) => s.in === 'header').map((s) => s.parameterName);

/** Query parameters that carry a credential in some security scheme of the spec. */
export const CREDENTIAL_QUERY_PARAMS: readonly string[] = Object.values(securitySchemes).filter((s) => s.in === 'query').map((s) => s.parameterName);

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Resolved operation of a request: the catalog entry when the method + path template is in the spec. */
export interface OperationRef {
  info: OperationInfo | undefined;
  /** `GET /api/v2/{orgId}/logs` */
  label: string;
  idempotent: boolean;
}

export function findOperation(method: string, pathTemplate: string): OperationRef {
  const upper = method.toUpperCase();
  const info = apiOperations.find((op) => op.method === upper && op.path === pathTemplate);
  return {
    info,
    label: `${upper} ${pathTemplate}`,
    // Paths outside the spec fall back to HTTP semantics; they get no credentials at all.
    idempotent: info ? info.idempotent : IDEMPOTENT_METHODS.has(upper),
  };
}

/**
 * Puts the operation's credentials on the headers / URL. Throws a `config` SnapEngageError naming the
 * option and its environment variable when one is missing, so nothing is sent without it.
 */
export function applyCredentials(op: OperationRef, credentials: Credentials, headers: Headers, url: URL, redactedUrl: string): void {
  for (const schemeName of op.info?.security ?? []) {
    const scheme = securitySchemes[schemeName];
    if (!scheme) continue; // The generator validates scheme names; an unknown one cannot carry a credential.
    const value = credentials[scheme.option as keyof Credentials];
    if (typeof value !== 'string' || value === '') {
      throw new SnapEngageError({
        kind: 'config',
        operation: op.label,
        url: redactedUrl,
        message:
          `${op.label} needs the ${scheme.option} credential: pass { ${scheme.option} } to createSnapEngageClient, or set ` +
          `${scheme.env} for credentialsFromEnv(), which reads the process environment, not a .env file ` +
          `(node --env-file=.env loads one). How to get it: ${scheme.howToGet}`,
      });
    }
    if (scheme.in === 'header') {
      try {
        headers.set(scheme.parameterName, value);
      } catch {
        // Headers.set's TypeError quotes the whole value: it is dropped, never wrapped as a cause.
        throw new SnapEngageError({
          kind: 'config',
          operation: op.label,
          url: redactedUrl,
          message:
            `${op.label}: the ${scheme.option} credential (${scheme.env}) cannot be sent in the ${scheme.parameterName} header: ` +
            'it contains a character no header can carry (a line break, a NUL, or one beyond Latin-1); copy it again, on one line',
        });
      }
    } else url.searchParams.set(scheme.parameterName, value);
  }
}

/** Hint for an auth failure: which option / env var the operation uses. */
export function credentialHint(op: OperationRef): string {
  const names = (op.info?.security ?? [])
    .map((name) => securitySchemes[name])
    .filter((s) => s !== undefined)
    .map((s) => `${s.option} (${s.env})`);
  return names.length ? `check the ${names.join(' and ')} credential` : 'this path needs no credential in the spec';
}

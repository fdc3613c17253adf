// snapengage-client: typed SnapEngage API client (openapi-fetch) with per-operation auth, retries,
// timeouts, pagination and typed errors. Runs wherever fetch exists (no Node-only imports).
export { createSnapEngageClient, credentialsFromEnv, unwrap, CLIENT_VERSION } from './client.js';
export type { SnapEngageClient, Case, UnwrappedData } from './client.js';
export type { SnapEngageClientOptions, ClientLogger, RequestLogEvent } from './options.js';
export type { CallOverrides } from './call-options.js';
// openapi-fetch's middleware type, for `client.use()`: an app whose package manager keeps dependencies strict (pnpm)
// cannot import openapi-fetch itself, the client's dependency, not the app's.
export type { Middleware } from 'openapi-fetch';
export type { GetPath, PageData, PageInit, PageResult, PagingOptions, IterateLogsArgs, TypedPageInit } from './pagination.js';
export { SnapEngageError, describeResponseTooLarge, isSnapEngageError, printable } from './errors.js';
export { hideUrlCredentials, redactSecrets, secretRedactor } from './redact.js';
export { parseKeepingLargeIntegers } from './large-integers.js';
export { notLoadableReason } from './resources.js';
export { parseRetryAfter } from './retry.js';
export { pathValueProblem } from './path-params.js';
export type { ResponseTooLarge, SnapEngageErrorInit, SnapEngageErrorKind } from './errors.js';
export * from '../../../generated/catalog.js';
export type { paths, components, operations } from '../../../generated/openapi.js';

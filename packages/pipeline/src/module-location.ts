// Where the loader's code is, for what it resolves beside itself (DuckDB's module, a TypeScript config's imports,
// a JavaScript config's cache entry). Bundled into an app as CommonJS (esbuild --format=cjs, the default of AWS CDK's
// NodejsFunction), `import.meta` is empty: the bundle's own `__filename` and `require` stand in, and resolve from the
// bundle's folder, where the app installs DuckDB and tsx (OPERATIONS.md, "Using it from an app"; bundle.test.ts).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const asModule = typeof import.meta.url === 'string';

/** This module's URL: the file's own as an ES module, the bundle's as CommonJS. */
export const moduleUrl: string = asModule ? import.meta.url : pathToFileURL(__filename).href;

/** A require() resolving from here. */
export const requireHere: NodeJS.Require = asModule ? createRequire(import.meta.url) : require;

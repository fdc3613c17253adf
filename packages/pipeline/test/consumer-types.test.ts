// The public config and run types compile in a consumer with exactOptionalPropertyTypes (and the other strict
// flags apps turn on), where `{ path: process.env.X }` is an error unless the property admits undefined. The
// repository's own tsconfig leaves that flag off, so this checks the fixture with it on, through the TypeScript API.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

it('PipelineConfig, definePipeline, runPipeline and openDataset typecheck with exactOptionalPropertyTypes', () => {
  const fixture = join(here, 'fixtures/exact-optional-consumer.ts');
  const base = ts.getParsedCommandLineOfConfigFile(join(repoRoot, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const options: ts.CompilerOptions = { ...base?.options, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, strict: true, noEmit: true };
  const program = ts.createProgram([fixture], options);
  const source = program.getSourceFile(fixture);
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  expect(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
}, 60_000);

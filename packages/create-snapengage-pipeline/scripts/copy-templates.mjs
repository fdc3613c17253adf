// Copies the repo's top-level templates/ (and LICENSE) into this package so `npm pack` / publish carry them;
// src/templates.ts resolves them relative to the installed package.
import { copyFileSync, cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../../../templates', import.meta.url));
const target = fileURLToPath(new URL('../templates', import.meta.url));
if (!existsSync(source)) {
  console.error(`copy-templates: ${source} is missing; run the build from a checkout of the repo.`);
  process.exit(1);
}
rmSync(target, { recursive: true, force: true });
cpSync(source, target, { recursive: true });
copyFileSync(fileURLToPath(new URL('../../../LICENSE', import.meta.url)), fileURLToPath(new URL('../LICENSE', import.meta.url)));

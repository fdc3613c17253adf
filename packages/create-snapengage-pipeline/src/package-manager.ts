// What pnpm and yarn need in a new project beyond what npm needs. Found by installing a scaffolded project with each:
// - With --packages, npm takes the pipeline's own `snapengage-client` dependency from the project's `file:` tarball;
//   pnpm and yarn ask the registry for it and fail with a 404 until it is published, unless it is overridden.
// - esbuild (under tsx) checks its binary in a build script: pnpm 10 skips it with a warning to `approve-builds`,
//   pnpm 11 and later fail the whole install over it. yarn 1 runs it. npm 11.16+ runs it but ends every install with
//   a warning that it is not covered by `allowScripts` (npm 12 skips it): the field approves it, older npm ignores it.
// pnpm 11 and later read these settings only from pnpm-workspace.yaml; pnpm 9 refuses a pnpm-workspace.yaml without
// `packages` (and one with them makes the project a workspace, so `pnpm add` wants -w), so before 11 they go into
// package.json. The major version comes from npm_config_user_agent (`pnpm/9.15.9`).
import type { DependencySpecs } from './dependencies.js';
import type { PackageManager } from './options.js';

export interface PackageManagerSettings {
  /** Fields added to package.json. */
  packageJson: Record<string, unknown>;
  /** Extra files: path → content. */
  files: Map<string, string>;
}

/** Packages the toolkit's own packages depend on, pinned to the project's tarball when it uses --packages. */
function overrides(specs: DependencySpecs, packagesDir: string | null): Record<string, string> | null {
  return packagesDir ? { 'snapengage-client': specs.dependencies['snapengage-client']! } : null;
}

export function packageManagerSettings(
  pm: PackageManager,
  major: number | null,
  specs: DependencySpecs,
  packagesDir: string | null,
): PackageManagerSettings {
  const pinned = overrides(specs, packagesDir);
  const files = new Map<string, string>();
  if (pm === 'yarn') return { packageJson: pinned ? { resolutions: pinned } : {}, files };
  if (pm === 'npm') return { packageJson: { allowScripts: { esbuild: true } }, files };
  if (pm !== 'pnpm') return { packageJson: {}, files };
  if (major !== null && major >= 11) {
    const lines = [
      '# pnpm settings of this project (pnpm 11 and later read them here, not from package.json).',
      "# esbuild (under tsx) checks its binary in a build script; npm runs it too, pnpm only when allowed.",
      'allowBuilds:',
      '  esbuild: true',
    ];
    if (pinned) {
      lines.push("# The pipeline's own snapengage-client dependency is the local tarball too, not the registry's (unpublished).", 'overrides:');
      // A JSON string is a valid YAML double-quoted scalar, whatever the path holds.
      for (const [name, spec] of Object.entries(pinned)) lines.push(`  ${name}: ${JSON.stringify(spec)}`);
    }
    files.set('pnpm-workspace.yaml', `${lines.join('\n')}\n`);
    return { packageJson: {}, files };
  }
  return { packageJson: { pnpm: { onlyBuiltDependencies: ['esbuild'], ...(pinned ? { overrides: pinned } : {}) } }, files };
}

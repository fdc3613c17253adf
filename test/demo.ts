// `npm run demo`: the whole user journey offline, with no credentials. Packs this repo's packages, starts the
// SnapEngage sandbox, scaffolds snapengage-demo/ (gitignored) non-interactively against the local tarballs, installs
// it, runs the pipeline against the sandbox, prints the load info and `npm run show`, and stops the sandbox.
import { spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keepEditedProject, scaffoldArgs, scaffoldSummary, writeFingerprint } from './demo-project.js';
import { npmCommand, packLocal, packsDir, repoRoot } from './pack-local.js';

const DEMO_DIR = 'snapengage-demo';
const RESOURCES = 'logs,widgets,chat_availability,users';
const projectDir = join(repoRoot, DEMO_DIR);

function step(title: string): void {
  console.log(`\n== ${title}`);
}

/** Asynchronous on purpose: the sandbox serves from this process and must keep answering while npm runs. */
function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}, quiet = false): Promise<string> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SNAPENGAGE_')));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!quiet) process.stdout.write(chunk);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`\`${command} ${args.join(' ')}\` failed (exit ${code})${quiet ? `:\n${output.slice(-3000)}` : ''}`));
    });
  });
}

export async function demo(): Promise<void> {
  step('Building and packing the local packages into .packs/');
  const packs = packLocal({ quiet: true });
  console.log(packs.join('  '));

  step('Starting the SnapEngage sandbox');
  // Imported after the build so a fresh clone gets the just-built dist.
  const { startSandbox } = await import('snapengage-sandbox');
  const sandbox = await startSandbox({ port: 0, seed: 42, cases: 2000, widgets: 3, days: 60 });
  console.log(`sandbox at ${sandbox.url} (2000 cases, 3 widgets, 60 days; credentials are the sandbox's own)`);
  try {
    step(`Scaffolding ${DEMO_DIR}/ with create-snapengage-pipeline --resources ${RESOURCES}`);
    const kept = keepEditedProject(projectDir);
    if (kept) {
      const what = kept.changed ? `changed since the demo made it: ${kept.changed.slice(0, 5).join(', ')}${kept.changed.length > 5 ? ', …' : ''}` : 'not made by this demo';
      console.log(`${DEMO_DIR}/ was ${what}; kept as ${basename(kept.keptAs)}/`);
    }
    const cli = join(repoRoot, 'packages/create-snapengage-pipeline/dist/cli.js');
    const scaffolded = await run(process.execPath, [cli, ...scaffoldArgs(DEMO_DIR, RESOURCES, packsDir)], repoRoot, {}, true);
    console.log(scaffoldSummary(scaffolded));
    writeFingerprint(projectDir);

    step('npm install (offline, from .packs/ and the npm cache)');
    const install = await run(...npmCommand(['install', '--prefer-offline', '--no-audit', '--no-fund']), projectDir, {}, true);
    console.log(install.split('\n').find((line) => line.startsWith('added')) ?? 'installed');

    step('npm start (against the sandbox)');
    await run(...npmCommand(['start', '--silent']), projectDir, { ...sandbox.env, NO_COLOR: '1' });

    step('npm run show');
    await run(...npmCommand(['run', 'show', '--silent']), projectDir, { NO_COLOR: '1' });
  } finally {
    await sandbox.close();
    console.log('\nsandbox stopped');
  }
  console.log(`\nThe project is in ${DEMO_DIR}/: edit src/pipeline.ts, then \`npm test\` there runs it against the sandbox.`);
  console.log(`\`npm run demo\` again makes it anew; once you have edited it (or added a .env), the old one is kept beside it as ${DEMO_DIR}.kept-<time>/.`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  demo().catch((error: Error) => {
    console.error(`\ndemo failed: ${error.message}`);
    process.exitCode = 1;
  });
}

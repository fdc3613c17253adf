// Regeneration: a copy of the repo whose spec has one extra loadable endpoint (test/fixtures/scaffold/
// extra-endpoint.yaml) → generate → build → pack → the scaffolder offers the new resource → the emitted project
// loads it. No code is edited anywhere; the extra endpoint is served by a loopback proxy in front of the sandbox.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { openDataset } from 'snapengage-pipeline';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { ENTER, fakeTerminal, pipelineResources, repoRoot, UP } from '../packages/create-snapengage-pipeline/test/helpers.js';

const WORKSPACES: Record<string, string> = {
  'snapengage-client': 'client',
  'snapengage-sandbox': 'sandbox',
  'snapengage-pipeline': 'pipeline',
  'create-snapengage-pipeline': 'create-snapengage-pipeline',
};
const AGENTS = [
  { agentId: 'ada@example.com', alias: 'Ada' },
  { agentId: 'grace@example.com', alias: null },
];

let work: string;
let copy: string;
let sandbox: Sandbox;
let proxy: Server;
let proxyUrl: string;

/** Asynchronous: the sandbox and proxy serve from this process. Rejects with the output on a non-zero exit. */
function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SNAPENGAGE_')));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...base, NO_COLOR: '1', ...env }, timeout: 240_000 });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} → ${code}\n${output}`))));
  });
}

/** The repo's sources without build output; node_modules links to the real one, except the workspaces → the copy. */
function copyRepo(target: string): void {
  const skip = (path: string) => /[/\\](node_modules|dist|templates)$/.test(path) && path.includes(`${join('packages')}`);
  for (const entry of ['spec', 'generator', 'templates', 'packages', 'package.json', 'tsconfig.base.json', 'LICENSE']) {
    cpSync(join(repoRoot, entry), join(target, entry), { recursive: true, filter: (src) => !skip(src) });
  }
  mkdirSync(join(target, 'node_modules'));
  for (const entry of readdirSync(join(repoRoot, 'node_modules'))) {
    const workspace = WORKSPACES[entry];
    symlinkSync(workspace ? join(target, 'packages', workspace) : join(repoRoot, 'node_modules', entry), join(target, 'node_modules', entry));
  }
  // A dependency npm installs under one workspace (a version the root does not hold) is linked there, as it is found.
  for (const workspace of Object.values(WORKSPACES)) {
    const own = join(repoRoot, 'packages', workspace, 'node_modules');
    if (existsSync(own)) symlinkSync(own, join(target, 'packages', workspace, 'node_modules'));
  }
}

function startProxy(upstream: string, provisioningKey: string): Promise<Server> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/api/v1/agents.json') {
      const ok = url.searchParams.get('api_key') === provisioningKey;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { agents: AGENTS } : { error: 'unauthorized' }));
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => typeof v === 'string' && k !== 'host')) as Record<string, string>;
    const answer = await fetch(`${upstream}${url.pathname}${url.search}`, { method: req.method, headers });
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'scaffold-regen-'));
  copy = join(work, 'repo');
  copyRepo(copy);
  const specPath = join(copy, 'spec/snapengage.openapi.yaml');
  const spec = YAML.parse(readFileSync(specPath, 'utf8'));
  Object.assign(spec.paths, YAML.parse(readFileSync(join(repoRoot, 'test/fixtures/scaffold/extra-endpoint.yaml'), 'utf8')));
  writeFileSync(specPath, YAML.stringify(spec));
  const tsx = join(repoRoot, 'node_modules/.bin/tsx');
  await run(tsx, ['generator/cli.ts', '--spec', specPath, '--out', join(copy, 'generated')], copy);
  await run('npm', ['run', 'build'], copy);
  mkdirSync(join(copy, '.packs'));
  // Scripts skipped: the build above made dist/, and each package's prepack would build it again.
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', join(copy, '.packs'), ...Object.keys(WORKSPACES).flatMap((w) => ['-w', w])], copy);

  sandbox = await startSandbox({ port: 0, seed: 3, cases: 50, widgets: 1, days: 10 });
  proxy = await startProxy(sandbox.url, sandbox.credentials.provisioningKey);
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 400_000);

afterAll(async () => {
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  await sandbox?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a regenerated catalog flows through with no code edits', () => {
  it('the scaffolder offers the new resource and the emitted project loads it', async () => {
    const cli = join(copy, 'packages/create-snapengage-pipeline/dist/cli.js');
    expect(await run(process.execPath, [cli, '--help'], work)).toContain('users, agents');

    // The copy's built scaffolder, in-process on a fake terminal: the multiselect offers the new resource with its
    // description (shown on the highlighted option); logs is preselected, UP wraps to agents (last), space picks it.
    const { main } = (await import(pathToFileURL(join(copy, 'packages/create-snapengage-pipeline/dist/index.js')).href)) as typeof import('../packages/create-snapengage-pipeline/src/index.js');
    const term = fakeTerminal();
    const done = main({ argv: ['regen-proj', '--packages', join(copy, '.packs'), '--no-install', '--no-git'], env: {}, cwd: work, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Which resources', UP);
    await term.answer('agents', ' ', ENTER);
    await term.answer('First day to load', ENTER);
    await term.answer('Enter credentials now?', ENTER);
    expect(await done, term.errors()).toBe(0);
    expect(term.output()).toMatch(/agents.*Agents of the account \(test fixture endpoint\)\. \(SNAPENGAGE_PROVISIONING_KEY\)/);
    const project = join(work, 'regen-proj');
    expect(pipelineResources(readFileSync(join(project, 'src/pipeline.ts'), 'utf8'))).toEqual(['logs', 'agents']);
    expect(readFileSync(join(project, 'src/pipeline.ts'), 'utf8')).toContain('Agents of the account (test fixture endpoint).');
    expect(readFileSync(join(project, '.env.example'), 'utf8')).toMatch(/Needed by: agents\nSNAPENGAGE_PROVISIONING_KEY=/);

    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], project);
    await run('npm', ['run', 'check'], project);
    const start = await run('npm', ['start'], project, { ...sandbox.env, SNAPENGAGE_BASE_URL: proxyUrl });
    expect(start).toMatch(/agents\s+2/);

    const dataset = await openDataset({ path: join(project, 'snapengage.duckdb'), dataset: 'snapengage_data' });
    try {
      expect(await dataset.sql('SELECT agent_id, alias FROM agents ORDER BY agent_id')).toEqual([
        { agent_id: 'ada@example.com', alias: 'Ada' },
        { agent_id: 'grace@example.com', alias: null },
      ]);
      expect(await dataset.sql('SELECT COUNT(*)::INTEGER AS n FROM logs')).toEqual([{ n: 50 }]);
    } finally {
      await dataset.close();
    }
  });
});

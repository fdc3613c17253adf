// snapengage-sandbox: a local, seeded emulator of the SnapEngage REST APIs (Logs, Visitor Chat,
// Provisioning) with an admin API for tests. See README.md.
export { startSandbox, type Sandbox } from './server.js';
export { SandboxOptionError, type ChatBooleans, type EndDay, type LastPageLink, type SandboxOptions } from './options.js';
export type { SandboxCredentials } from './fixtures.js';

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from './support/processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The commands under "Your first email", exactly as a new user would paste them. */
async function quickstartCommands(): Promise<string[]> {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('### Your first email')[1]!;
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.trim().split('\n');
}

describe('README quick start', () => {
  let dataDir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'keplars-readme-'));
    server = await startServerProcess('start', { DATA_DIR: dataDir, PORT: '0' });
  });
  afterAll(async () => {
    await server?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('reaches a delivered (captured) first email in at most three commands', async () => {
    const commands = await quickstartCommands();
    expect(commands.length).toBeLessThanOrEqual(3);
    const [createKey, send, look] = commands.map((c) => c.replaceAll('http://localhost:8080', server.url!));
    // npx (npm exec) in the package's own folder installs that folder into npm's npx cache and runs its
    // `prepare` (a full build) first: 10–55 s of silence. The first command runs the built bin itself.
    expect(createKey).toContain('$(node bin/keplars-server.js workspace create ');
    expect(commands.join('\n')).not.toMatch(/\bnpx\b|npm exec/);
    // one terminal session; delivery is asynchronous, so the last command is repeated briefly as a person would
    const script = `${createKey}\n${send}\necho\nfor i in $(seq 1 50); do out=$(${look}); case "$out" in *email_id*) break;; esac; sleep 0.2; done\necho "$out"`;
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), DATA_DIR: dataDir },
      timeout: 120_000,
    });
    const [sentLine, capturedLine] = stdout.trim().split('\n');
    const sent = JSON.parse(sentLine!) as { success: boolean; id: string };
    expect(sent.success).toBe(true);
    const captured = JSON.parse(capturedLine!) as { data: { messages: { email_id: string; subject: string; envelope_to: string[] }[] } };
    expect(captured.data.messages[0]).toMatchObject({ email_id: sent.id, subject: 'Hello', envelope_to: ['you@example.com'] });
  });
});

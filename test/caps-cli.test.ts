import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/processes.js';
import { initialisedDataDir } from './support/data-dirs.js';

describe('per-workspace caps through the operator CLI (embedded database)', () => {
  let dataDir: string;
  const env = () => ({ DATA_DIR: dataDir, PORT: '0', MAX_DOMAINS_PER_WORKSPACE: '1', MAX_SENDING_KEYS_PER_WORKSPACE: '2' });

  beforeAll(async () => {
    dataDir = await initialisedDataDir('keplars-caps-');
  });
  afterAll(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('refuses `domain add` and `api-key create` over the caps, naming the limit', async () => {
    // workspace create makes the first sending key
    const created = await runCli(['workspace', 'create', '--name', 'Capped', '--json'], env());
    expect(created.code, created.stderr).toBe(0);
    const id = (JSON.parse(created.stdout) as { workspace: { id: string } }).workspace.id;

    const second = await runCli(['api-key', 'create', '--workspace', id, '--json'], env());
    expect(second.code, second.stderr).toBe(0);
    const third = await runCli(['api-key', 'create', '--workspace', id], env());
    expect(third.code).toBe(1);
    expect(third.stderr).toContain('at most 2 sending API keys');

    const first = await runCli(['domain', 'add', '--workspace', id, '--domain', 'one.test'], env());
    expect(first.code, first.stderr).toBe(0);
    const over = await runCli(['domain', 'add', '--workspace', id, '--domain', 'two.test'], env());
    expect(over.code).toBe(1);
    expect(over.stderr).toContain('at most 1 custom domain;');
  });
});

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServerProcess } from './support/processes.js';

/** A first start on a new data folder takes seconds to initialise it: it says so before, instead of staying silent. */
describe('first boot of the embedded database', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'keplars-first-boot-'));
  });
  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  const messages = (output: string) =>
    output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => String((JSON.parse(l) as { msg: unknown }).msg));

  it('start: logs that it initialises the data folder, then the migrations applied, before the ready line; a restart says neither', async () => {
    const dataDir = path.join(root, 'server');
    const env = { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' };
    const first = await startServerProcess('start', env, 120_000);
    await first.stop();
    const said = messages(first.output());
    const initialising = said.findIndex((m) => m.startsWith(`initialising the data folder ${dataDir}`));
    const migrated = said.findIndex((m) => /^applied \d+ database migration\(s\)$/.test(m));
    const ready = said.indexOf('keplars-server ready');
    expect(initialising, said.join('\n')).toBeGreaterThanOrEqual(0);
    expect(initialising).toBeLessThan(migrated);
    expect(migrated).toBeLessThan(ready);

    const again = await startServerProcess('start', env, 120_000);
    await again.stop();
    expect(messages(again.output()).filter((m) => m.startsWith('initialising') || m.startsWith('applied'))).toEqual([]);
  });

  it('a CLI command: one line on stderr the first time, none after', async () => {
    const env = { DATA_DIR: path.join(root, 'cli') };
    const first = await runCli(['workspace', 'list', '--json'], env, 120_000);
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^initialising the data folder .*cli \(first start; this takes a few seconds\)…$/);
    expect(JSON.parse(first.stdout)).toEqual(expect.anything());
    const again = await runCli(['workspace', 'list', '--json'], env, 120_000);
    expect(again.stderr).toBe('');
  });
});

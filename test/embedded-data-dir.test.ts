import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/app.js';
import { walk } from './support/files.js';
import { runCli, spawnCli, startServerProcess, type CliProcess, type ServerProcess } from './support/processes.js';
import { initialisedDataDir } from './support/data-dirs.js';

describe('a busy embedded server keeps its data folder', () => {
  let dataDir: string;
  let server: ServerProcess;
  let workspaceId: string;
  const clis: CliProcess[] = [];
  const env = () => ({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' });
  const lockText = () => fs.readFile(path.join(dataDir, 'keplars.lock'), 'utf8');

  beforeAll(async () => {
    dataDir = await initialisedDataDir('keplars-busy-');
    server = await startServerProcess('start', env());
    const created = await runCli(['workspace', 'create', '--name', 'Busy', '--json'], env());
    expect(created.code, created.stderr).toBe(0);
    workspaceId = (JSON.parse(created.stdout) as { workspace: { id: string } }).workspace.id;
  });
  afterEach(() => {
    // a stopped server must always run again, whatever an assertion did
    server.child.kill('SIGCONT');
    for (const c of clis.splice(0)) c.child.kill('SIGKILL');
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('a CLI command waits for a stalled server and says so, never opens the database, and goes through the server once it answers', async () => {
    const pid = server.child.pid!;
    expect(JSON.parse(await lockText())).toMatchObject({ pid });
    server.child.kill('SIGSTOP'); // alive, its admin socket accepts and never answers
    // an hour-old lock: the earlier rule took the lock of a live owner that had not answered for 2 s on an old lock
    const old = new Date(Date.now() - 60 * 60_000);
    await fs.utimes(path.join(dataDir, 'keplars.lock'), old, old);
    const lockBefore = await lockText();
    const filesBefore = await walk(path.join(dataDir, 'pgdata'));

    const list = spawnCli(['key', 'list', '--workspace', workspaceId, '--json'], env());
    clis.push(list);
    await list.waitForStderr(new RegExp(`The server \\(pid ${pid}\\) that holds .* is busy or starting; waiting up to 60 s for it to answer`));

    // a second server on the folder is refused with the usual message, at once
    const second = await runCli(['start'], env(), 30_000);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`is in use by another keplars-server process (pid ${pid})`);

    // several more looks at the folder later, nothing has touched the database and the owner still holds the lock
    await new Promise((r) => setTimeout(r, 3000));
    expect(list.child.exitCode).toBeNull();
    expect(await lockText()).toBe(lockBefore);
    expect(await walk(path.join(dataDir, 'pgdata'))).toEqual(filesBefore);

    server.child.kill('SIGCONT');
    const done = await list.result;
    expect(done.code, done.stderr).toBe(0);
    const keys = (JSON.parse(done.stdout) as { keys: { kind: string }[] }).keys;
    expect(keys.map((k) => k.kind).sort()).toEqual(['admin', 'regular']);
    // the command never took the lock (it would have removed it on release): it went through the server
    expect(await lockText()).toBe(lockBefore);
    expect((await call(`${server.url}/health`)).status).toBe(200);
  });

  it('gives up after --wait with a clear message, having done nothing', async () => {
    server.child.kill('SIGSTOP');
    const lockBefore = await lockText();
    const create = await runCli(['workspace', 'create', '--name', 'Never', '--wait', '2'], env());
    expect(create.code).toBe(1);
    expect(create.stderr).toContain('is busy or starting; waiting up to 2 s');
    expect(create.stderr).toContain(`The keplars-server process (pid ${server.child.pid}) that holds ${dataDir} did not answer on its admin socket within 2 s, so nothing was done`);
    const migrate = await runCli(['migrate'], { ...env(), CLI_WAIT_SECONDS: '1' });
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toContain('did not answer on its admin socket within 1 s');
    expect(await lockText()).toBe(lockBefore);

    server.child.kill('SIGCONT');
    const list = await runCli(['workspace', 'list', '--json'], env());
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { workspaces: { name: string }[] }).workspaces.map((w) => w.name)).toEqual(['Busy']);
  });
});

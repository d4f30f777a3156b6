import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/app.js';
import { runCli, startServerProcess, type ServerProcess } from './support/processes.js';
import { initialisedDataDir } from './support/data-dirs.js';

/** The automation commands of the built CLI, through a running embedded server (its admin socket). */
describe('automation list, show, activate and pause from the built CLI', () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  const env = () => ({ DATA_DIR: dataDir, PORT: '0' });

  beforeAll(async () => {
    dataDir = await initialisedDataDir('keplars-automations-');
    server = await startServerProcess('start', env());
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('lists, shows, activates and pauses an automation made with the API, and says what is wrong', async () => {
    const ws = JSON.parse((await runCli(['workspace', 'create', '--name', 'Automations', '--json'], env())).stdout) as { workspace: { id: string }; admin_key: string };
    const workspace = ws.workspace.id;
    const empty = await runCli(['automation', 'list', '--workspace', workspace], env());
    expect(empty.stdout).toBe('No automations. Create one with the API: POST /api/v1/automations (README, "Automations")\n');

    const steps = [
      { id: 'tag', type: 'action', action: { kind: 'add_tag', tag: 'trial' }, next: 'wait' },
      { id: 'wait', type: 'delay', amount: 3, unit: 'days', next: 'check' },
      { id: 'check', type: 'condition', condition: { kind: 'tag', tag: 'paid', op: 'has' }, on_false: 'untag' },
      { id: 'untag', type: 'action', action: { kind: 'remove_tag', tag: 'trial' } },
    ];
    const created = await call(`${server!.url}/api/v1/automations`, { key: ws.admin_key, body: { name: 'Trial', trigger: { type: 'contact_event', config: { event_name: 'trial_started' } }, steps } });
    expect(created.status, created.text).toBe(200);
    const id = (created.body.data as { id: string }).id;

    const list = await runCli(['automation', 'list', '--workspace', workspace], env());
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toBe(`${id}  draft     contact_event              0 running, 0 enrolled  Trial\n`);
    const show = await runCli(['automation', 'show', '--workspace', workspace, '--automation', id], env());
    expect(show.stdout).toBe(
      [
        'Trial (draft, version 1)',
        `  id:       ${id}`,
        '  trigger:  contact_event {"event_name":"trial_started"}',
        '  contacts: 0 running, 0 enrolled, 0 completed',
        '  steps:',
        '    1. tag  action  → wait',
        '    2. wait  delay  → check',
        '    3. check  condition  yes → end, no → untag',
        '    4. untag  action  → end',
        '',
      ].join('\n'),
    );
    const paused = await runCli(['automation', 'pause', '--workspace', workspace, '--automation', id], env());
    expect(paused.code).toBe(1);
    expect(paused.stderr).toContain(`Automation ${id} is draft and cannot be paused: activate it first`);
    const active = await runCli(['automation', 'activate', '--workspace', workspace, '--automation', id, '--print', 'automation.status'], env());
    expect(active.stdout).toBe('active\n');
    expect((await runCli(['automation', 'pause', '--workspace', workspace, '--automation', id, '--print', 'automation.status'], env())).stdout).toBe('paused\n');
    const listed = JSON.parse((await runCli(['automation', 'list', '--workspace', workspace, '--json'], env())).stdout) as { automations: { id: string; status: string }[] };
    expect(listed.automations.map((a) => [a.id, a.status])).toEqual([[id, 'paused']]);

    const unknown = await runCli(['automation', 'show', '--workspace', workspace, '--automation', 'nope'], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`keplars-server automation show: Automation nope not found. Try: keplars-server automation list --workspace ${workspace}\n`);
    const missing = await runCli(['automation', 'show', '--workspace', workspace], env());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--automation is required');
  });
});

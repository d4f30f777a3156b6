import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdminCommand } from '../src/app/admin-commands.js';
import { COMMANDS, GROUPS, optionsOf } from '../src/cli/commands.js';
import { pickField } from '../src/cli/format.js';
import { describeError } from '../src/cli/describe-error.js';
import { run } from '../src/cli/run.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { TEST_SECRET_KEY } from './support/domains.js';
import { startTestApp, type TestApp } from './support/app.js';

/** The CLI in this process: everything here is answered before any configuration or database is touched. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

describe('the CLI command table', () => {
  it('every declared command answers --help and `help <command>` with each of its options', async () => {
    for (const spec of COMMANDS) {
      const words = spec.name.split(' ');
      const viaFlag = await cli(...words, '--help');
      expect(viaFlag.code, spec.name).toBe(0);
      expect(viaFlag.stdout).toContain(`Usage: keplars-server ${spec.name}`);
      for (const o of optionsOf(spec)) expect(viaFlag.stdout, `${spec.name} --${o.name}`).toContain(`--${o.name}`);
      for (const field of spec.output) expect(viaFlag.stdout).toContain(field);
      // -h, `help …`, and --help after other (even wrong) options say the same
      expect((await cli('help', ...words)).stdout).toBe(viaFlag.stdout);
      expect((await cli(...words, '--nope', '-h')).stdout).toBe(viaFlag.stdout);
    }
    for (const group of GROUPS) {
      const help = await cli(group, '--help');
      expect(help.code).toBe(0);
      for (const spec of COMMANDS.filter((c) => c.name.startsWith(`${group} `))) expect(help.stdout).toContain(`keplars-server ${spec.name} `);
      expect((await cli('help', group)).stdout).toBe(help.stdout);
    }
    const overview = await cli('--help');
    for (const spec of COMMANDS) expect(overview.stdout).toContain(spec.name);
    expect(overview.stdout).toContain('Exit codes:');
    expect((await cli('help')).stdout).toBe(overview.stdout);
  });

  it('--version is the version in package.json, read when asked', async () => {
    const pkg = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await cli('--version')).toEqual({ code: 0, stdout: `keplars-server ${pkg.version}\n`, stderr: '' });
  });

  it('an option has one type in every command (the command words are found with all of them)', () => {
    const types = new Map<string, boolean>();
    for (const o of COMMANDS.flatMap(optionsOf)) {
      expect(types.get(o.name) ?? Boolean(o.value), o.name).toBe(Boolean(o.value));
      types.set(o.name, Boolean(o.value));
    }
  });

  it('a wrong command line is one line on stderr saying what is wrong and what to type, exit code 2', async () => {
    const cases: [string[], string][] = [
      [[], 'keplars-server: no command given. Try: keplars-server help'],
      [['strat'], `keplars-server: unknown command "strat" (did you mean 'start'?)`],
      [['wrokspace', 'list'], `keplars-server: unknown command "wrokspace" (did you mean 'workspace'?). Try: keplars-server help`],
      [['workspace'], 'keplars-server workspace: which workspace command? One of: create, list, set-plan, set-tracking, set-timezone, usage. Try: keplars-server help workspace'],
      [['workspace', 'crate'], `keplars-server workspace: unknown subcommand "crate" (did you mean 'create'?); one of: create, list, set-plan, set-tracking, set-timezone, usage. Try: keplars-server help workspace`],
      [['workspace', 'usage'], 'keplars-server workspace usage: --workspace is required. Try: keplars-server workspace usage --workspace <id>'],
      [['workspace', 'create', '--name'], 'keplars-server workspace create: --name needs a value. Try: keplars-server workspace create --name <name>'],
      [['workspace', 'create', '--name', ' '], 'keplars-server workspace create: --name needs a value.'],
      [['workspace', 'create', '--nmae', 'x'], 'keplars-server workspace create: unknown option "--nmae" (did you mean --name?). Try: keplars-server workspace create --help'],
      [['workspace', 'create', '--name', 'x', '--plan', 'GOLD'], '--plan must be one of FREE, LAUNCH, CUSTOM, ENTERPRISE, not "GOLD"'],
      [['domain', 'add', '--workspace', 'w', '--domain', 'd.test', '--region', 'mars-1'], '--region must be one of us-east-1, ap-southeast-1, af-south-1, not "mars-1"'],
      [['admin-key', 'create', '--workspace', 'w', '--scopes', 'emails:read,email:everything'], '--scopes must be a comma-separated list of contacts:read,'],
      [['workspace', 'list', '--wait', 'soon'], 'keplars-server workspace list: --wait must be a whole number of seconds, not "soon"'],
      [['workspace', 'list', '--json=yes'], 'keplars-server workspace list: --json takes no value'],
      [['workspace', 'list', 'everything'], 'keplars-server workspace list: unexpected argument "everything"'],
      [['workspace', 'create', '--name', 'x', '--print', 'secret'], `the result of workspace create has no field "secret" (did you mean 'secret_key'?)`],
      [['help', 'nope'], 'keplars-server help: no command "nope"'],
    ];
    for (const [argv, expected] of cases) {
      const res = await cli(...argv);
      expect([res.code, res.stdout], argv.join(' ')).toEqual([2, '']);
      expect(res.stderr, argv.join(' ')).toContain(expected);
      expect(res.stderr.trimEnd().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(res.stderr).toContain('Try: keplars-server ');
    }
  });

  it('a bug prints its message and asks for --debug; with --debug or DEBUG=1 the stack too', () => {
    const bug = new TypeError('cannot read properties of undefined');
    const plain = describeError(bug, 'workspace list', false);
    expect(plain.code).toBe(1);
    expect(plain.text).toBe('keplars-server workspace list: unexpected error: cannot read properties of undefined. This is a bug: please report it with the output of the same command run with --debug (or DEBUG=1).');
    const debug = describeError(bug, 'workspace list', true);
    expect(debug.text).toContain('TypeError: cannot read properties of undefined\n    at ');
    // the machine or PostgreSQL saying no is no bug
    expect(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'migrate', false).text).toBe(
      'keplars-server migrate: connect ECONNREFUSED 127.0.0.1:1. Check DATABASE_URL, DATA_DIR and the other settings it names.',
    );
    expect(describeError(Object.assign(new Error('database "x" does not exist'), { code: '3D000' }), 'migrate', false).text).toBe(
      'keplars-server migrate: PostgreSQL refused: database "x" does not exist. Check DATABASE_URL.',
    );
  });
});

describe('the declared output fields are the real results', () => {
  let t: TestApp;
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer();
    t = await startTestApp({ backend: 'pglite', env: { DNS_SERVERS: dns.server, SECRET_KEY: TEST_SECRET_KEY, DEFAULT_PLAN: 'custom' } });
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
  });

  it('every operator command has every field it declares, and declares every field it has', async () => {
    const s = t.app.services;
    const results = new Map<string, unknown>();
    const runs = async (name: string, args: Record<string, unknown>) => {
      const result = await runAdminCommand(s, name.replace(' ', '.'), args);
      results.set(name, result);
      return result as Record<string, Record<string, string>>;
    };
    // without --plan, a workspace gets DEFAULT_PLAN
    const created = await runs('workspace create', { name: 'Fields' });
    expect(created.workspace!.plan).toBe('CUSTOM');
    const workspace = created.workspace!.id!;
    await runs('workspace list', {});
    await runs('workspace set-plan', { workspace, plan: 'launch' });
    await runs('workspace set-tracking', { workspace, opens: 'off' });
    expect((await runs('workspace set-timezone', { workspace, zone: 'Europe/Berlin' })).timezone).toBe('Europe/Berlin');
    await runs('workspace usage', { workspace });
    const admin = await runs('admin-key create', { workspace, scopes: 'emails:read', name: 'x' });
    await runs('api-key create', { workspace });
    await runs('key list', { workspace });
    await runs('key revoke', { workspace, key: admin.api_key!.id });
    await runs('domain add', { workspace, domain: 'fields.test' });
    await runs('domain list', { workspace });
    await runs('domain verify', { workspace, domain: 'fields.test' });
    await runs('suppression add', { workspace, email: 'Gone@Fields.test' });
    await runs('suppression list', { workspace, reason: 'manual' });
    await runs('suppression remove', { workspace, email: 'gone@fields.test' });
    dns.set('hooks.fields.test', 'A', ['93.184.216.34']);
    const hook = await runs('webhook add', { workspace, url: 'http://hooks.fields.test/in', events: 'email.bounced,email.delivered', scheme: 'S2' });
    expect(hook.webhook).toMatchObject({ events: ['email.bounced', 'email.delivered'], signature_scheme: 's2' });
    await runs('webhook list', { workspace });
    dns.set('hooks.fields.test', 'A', ['127.0.0.1']);
    const tested = await runs('webhook test', { workspace, webhook: hook.webhook!.id! });
    expect(tested.result).toMatchObject({ success: false, status_code: null });
    await runs('webhook remove', { workspace, webhook: hook.webhook!.id! });
    const automation = await s.automations.create(workspace, { name: 'Fields', trigger: { type: 'manual', config: {} }, steps: [{ id: 'tag', type: 'action', action: { kind: 'add_tag', tag: 'x' } }] });
    await runs('automation list', { workspace });
    await runs('automation show', { workspace, automation: automation.id });
    expect((await runs('automation activate', { workspace, automation: automation.id })).automation!.status).toBe('active');
    expect((await runs('automation pause', { workspace, automation: automation.id })).automation!.status).toBe('paused');

    for (const spec of COMMANDS.filter((c) => c.kind === 'admin')) {
      expect(results.has(spec.name), `no sample run of ${spec.name}`).toBe(true);
      const result = results.get(spec.name) as Record<string, unknown>;
      for (const field of spec.output) expect(() => pickField(result, field), `${spec.name} --print ${field}`).not.toThrow();
      for (const key of Object.keys(result)) expect(spec.output, `${spec.name} returns ${key}`).toContain(key);
    }
  });

  it('an unknown id says which command lists the right ones', async () => {
    const s = t.app.services;
    const { workspace } = (await runAdminCommand(s, 'workspace.create', { name: 'Ids' })) as { workspace: { id: string } };
    const refused = async (command: string, args: Record<string, unknown>) => {
      try {
        await runAdminCommand(s, command, args);
      } catch (err) {
        return describeError(err, command.replace('.', ' '), false);
      }
      throw new Error(`${command} was not refused`);
    };
    expect(await refused('workspace.usage', { workspace: 'nope' })).toEqual({ code: 1, text: 'keplars-server workspace usage: Workspace nope not found. Try: keplars-server workspace list' });
    expect((await refused('key.revoke', { workspace: workspace.id, key: 'nope' })).text).toBe(
      `keplars-server key revoke: Active key nope not found in this workspace. Try: keplars-server key list --workspace ${workspace.id}`,
    );
    expect((await refused('webhook.remove', { workspace: workspace.id, webhook: 'nope' })).text).toBe(
      `keplars-server webhook remove: Webhook nope not found. Try: keplars-server webhook list --workspace ${workspace.id}`,
    );
    expect((await refused('automation.show', { workspace: workspace.id, automation: 'nope' })).text).toBe(
      `keplars-server automation show: Automation nope not found. Try: keplars-server automation list --workspace ${workspace.id}`,
    );
    expect((await refused('domain.verify', { workspace: workspace.id, domain: 'nope.test' })).text).toBe(
      `keplars-server domain verify: Domain nope.test not found. Try: keplars-server domain list --workspace ${workspace.id}`,
    );
  });
});

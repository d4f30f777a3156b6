import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { redactSecrets } from '../config/redact.js';
import { ApiError } from '../platform/http/errors.js';
import { callAdminSocket } from '../platform/embedded/admin-socket.js';
import { DataDirLockedError } from '../platform/embedded/data-dir-lock.js';
import type { Database, Warn } from '../platform/db/database.js';
import { migrate } from '../platform/db/migrate.js';
import { openDatabase, startApp, type Roles } from '../app/app.js';
import { runAdminCommand } from '../app/admin-commands.js';
import { createServices } from '../app/services.js';
import { reachDataDir, ServerBusyError, type DataDirAccess } from './data-dir-access.js';
import { formatHuman, pickField } from './format.js';

const USAGE = `keplars-server — self-hosted Keplars-compatible email platform

Usage:
  keplars-server start                 run every role in one process (API, delivery workers)
  keplars-server api                   run the HTTP API only (PostgreSQL)
  keplars-server worker                run delivery workers only (PostgreSQL)
  keplars-server migrate               apply database migrations
  keplars-server workspace create --name N [--plan FREE|LAUNCH|CUSTOM|ENTERPRISE] [--json]
                                       (prints the workspace, an admin key with every scope and a sending key)
  keplars-server workspace list [--json]
  keplars-server workspace set-plan --workspace ID --plan PLAN [--json]
  keplars-server workspace usage --workspace ID [--json]    this month's emails against the plan's quota
  keplars-server admin-key create --workspace ID [--scopes s1,s2] [--name N] [--json]
  keplars-server api-key create --workspace ID [--name N] [--json]
  keplars-server key list --workspace ID [--json]
  keplars-server key revoke --workspace ID --key ID [--json]
  keplars-server domain add --workspace ID --domain D [--region us-east-1|ap-southeast-1|af-south-1] [--json]
                                       (prints the DNS records to publish)
  keplars-server domain list --workspace ID [--json]
  keplars-server domain verify --workspace ID --domain ID_OR_NAME [--json]   checks the records in DNS now

Every command takes --json (machine-readable) or --print FIELD (one field, e.g. --print secret_key).
On the embedded database, a command waits up to --wait SECONDS (CLI_WAIT_SECONDS, default 60) for a busy
server that holds DATA_DIR to answer, and never opens the database under it.
Configuration comes from the environment (PORT, HOST, DATABASE_URL, DATA_DIR, SMTP_URL, …; see README).`;

const ROLE_COMMANDS: Record<string, Roles> = {
  start: { api: true, worker: true },
  api: { api: true, worker: false },
  worker: { api: false, worker: true },
};

async function runServer(config: Config, command: string): Promise<void> {
  const roles = ROLE_COMMANDS[command]!;
  if (!config.databaseUrl && command !== 'start') {
    throw new Error(`'${command}' runs one role so that several processes can share PostgreSQL; set DATABASE_URL, or use 'start' for the embedded database`);
  }
  const app = await startApp({ config, roles });
  app.log.info({ url: app.url, database: app.services.database.kind, delivery: config.deliveryMode, roles }, 'keplars-server ready');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    // close() bounds every step by the grace period; this only catches an event loop that never gets there
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs + 1000);
    force.unref();
    void app.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

const warnOnStderr: Warn = (_detail, message) => process.stderr.write(`warning: ${message}\n`);

/** PostgreSQL directly; the embedded database through the server that owns it, or opened under our lock. */
async function reach(config: Config, waitSeconds: number): Promise<DataDirAccess | { via: 'database'; database: Database; lock: null }> {
  if (config.databaseUrl) return { ...(await openDatabase(config)), via: 'database', lock: null };
  return reachDataDir(config, { waitSeconds, say: (line) => process.stderr.write(`${line}\n`), warn: warnOnStderr });
}

/** Runs an operator command against the database, or through the running embedded server that owns it. */
async function runAdmin(config: Config, waitSeconds: number, command: string, args: Record<string, unknown>): Promise<unknown> {
  const access = await reach(config, waitSeconds);
  if (access.via === 'server') return callAdminSocket(config.dataDir, command, args);
  const { database, lock } = access;
  try {
    await migrate(database.db);
    return await runAdminCommand(await createServices(config, database), command, args);
  } finally {
    await database.close();
    await lock?.release();
  }
}

function waitSecondsFrom(flag: string | undefined, config: Config): number {
  if (flag === undefined) return config.cliWaitSeconds;
  if (!/^\d+$/.test(flag)) throw new ConfigError([`--wait=${JSON.stringify(flag)}: must be a whole number of seconds`]);
  return Number(flag);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      plan: { type: 'string' },
      workspace: { type: 'string' },
      scopes: { type: 'string' },
      key: { type: 'string' },
      domain: { type: 'string' },
      region: { type: 'string' },
      json: { type: 'boolean', default: false },
      print: { type: 'string' },
      wait: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [group, action] = positionals;
  if (values.help || !group) {
    process.stdout.write(`${USAGE}\n`);
    return group || values.help ? 0 : 1;
  }
  const config = loadConfig();
  const waitSeconds = waitSecondsFrom(values.wait, config);

  if (group in ROLE_COMMANDS) {
    await runServer(config, group);
    return -1; // keep running
  }
  if (group === 'migrate') {
    const access = await reach(config, waitSeconds);
    if (access.via === 'server') {
      process.stdout.write(values.json ? `${JSON.stringify({ applied: [] })}\n` : 'The running server applied migrations at start; nothing to do.\n');
      return 0;
    }
    const { database, lock } = access;
    try {
      const applied = await migrate(database.db);
      process.stdout.write(values.json ? `${JSON.stringify({ applied })}\n` : `Applied ${applied.length} migration(s)${applied.length ? `: ${applied.join(', ')}` : ''}\n`);
    } finally {
      await database.close();
      await lock?.release();
    }
    return 0;
  }
  const command = `${group}.${action ?? ''}`;
  const known = ['workspace.create', 'workspace.list', 'workspace.set-plan', 'workspace.usage', 'admin-key.create', 'api-key.create', 'key.list', 'key.revoke', 'domain.add', 'domain.list', 'domain.verify'];
  if (!known.includes(command)) {
    process.stderr.write(`Unknown command: ${positionals.join(' ')}\n\n${USAGE}\n`);
    return 1;
  }
  const { json, print, wait: _wait, help: _help, ...args } = values;
  const result = await runAdmin(config, waitSeconds, command, args);
  if (print) process.stdout.write(`${pickField(result, print)}\n`);
  else process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatHuman(command, result));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    // whatever a library put in its message (a connection string, a relay URL) leaves with its secrets hidden
    if (err instanceof ConfigError || err instanceof DataDirLockedError || err instanceof ServerBusyError || err instanceof ApiError) {
      process.stderr.write(`${redactSecrets(err.message)}\n`);
    } else {
      process.stderr.write(`${redactSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    }
    process.exit(1);
  },
);

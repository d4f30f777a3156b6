import { loadConfig, type Config } from '../config/config.js';
import { ApiError } from '../platform/http/errors.js';
import { callAdminSocket } from '../platform/embedded/admin-socket.js';
import type { Database, Warn } from '../platform/db/database.js';
import { migrate } from '../platform/db/migrate.js';
import { openDatabase, startApp, type Roles } from '../app/app.js';
import { runAdminCommand } from '../app/admin-commands.js';
import { createServices } from '../app/services.js';
import type { CommandSpec } from './commands.js';
import { reachDataDir, type DataDirAccess } from './data-dir-access.js';
import { formatHuman, pickField } from './format.js';
import { runImportCommand } from './import-command.js';
import { KEEP_RUNNING, type CliIo } from './run.js';

// Loaded only once the command line is known to be right: help and usage errors never load the server.

const ROLES: Record<string, Roles> = {
  start: { api: true, worker: true, inbound: true },
  api: { api: true, worker: false },
  worker: { api: false, worker: true },
  inbound: { api: false, worker: false, inbound: true },
};

/** A command's result, and how it reads for people (--json prints the result itself). */
interface Outcome {
  result: unknown;
  human(): string;
}

/** Runs a checked command line: a server keeps running; any other command prints its result. */
export async function execute(spec: CommandSpec, values: Record<string, string | boolean | undefined>, io: CliIo): Promise<number> {
  const config = loadConfig(io.env);
  const waitSeconds = typeof values.wait === 'string' ? Number(values.wait) : config.cliWaitSeconds;
  if (spec.kind === 'server') return runServer(config, spec.name);
  const { result, human } =
    spec.kind === 'migrate'
      ? await runMigrate(config, waitSeconds, io)
      : spec.kind === 'import'
        ? await runImportCommand(config, await reach(config, waitSeconds, io), values, io)
        : await runAdmin(config, waitSeconds, spec, values, io);
  if (typeof values.print === 'string') io.stdout(`${pickField(result, values.print)}\n`);
  else io.stdout(values.json === true ? `${JSON.stringify(result, null, 2)}\n` : human());
  return 0;
}

async function runServer(config: Config, command: string): Promise<number> {
  const roles = ROLES[command]!;
  if (!config.databaseUrl && command !== 'start') {
    throw new ApiError('VALIDATION_ERROR', `'${command}' runs one role so that several processes can share PostgreSQL; set DATABASE_URL, or use 'start' for the embedded database`);
  }
  if (command === 'inbound' && config.inbound.port === null) {
    throw new ApiError('VALIDATION_ERROR', "'inbound' runs the inbound SMTP listener, which is off: set INBOUND_SMTP_PORT (25 where it receives the return-path domains' mail)");
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
  return KEEP_RUNNING;
}

/** PostgreSQL directly; the embedded database through the server that owns it, or opened under our lock. */
async function reach(config: Config, waitSeconds: number, io: CliIo): Promise<DataDirAccess | { via: 'database'; database: Database; lock: null }> {
  if (config.databaseUrl) return { ...(await openDatabase(config)), via: 'database', lock: null };
  const warn: Warn = (_detail, message) => io.stderr(`warning: ${message}\n`);
  return reachDataDir(config, { waitSeconds, say: (line) => io.stderr(`${line}\n`), warn });
}

async function runMigrate(config: Config, waitSeconds: number, io: CliIo): Promise<Outcome> {
  const access = await reach(config, waitSeconds, io);
  if (access.via === 'server') return { result: { applied: [] }, human: () => 'The running server applied migrations at start; nothing to do.\n' };
  const { database, lock } = access;
  try {
    const applied = await migrate(database.db);
    return { result: { applied }, human: () => `Applied ${applied.length} migration(s)${applied.length ? `: ${applied.join(', ')}` : ''}\n` };
  } finally {
    await database.close();
    await lock?.release();
  }
}

/** Runs an operator command against the database, or through the running embedded server that owns it. */
async function runAdmin(config: Config, waitSeconds: number, spec: CommandSpec, values: Record<string, unknown>, io: CliIo): Promise<Outcome> {
  const { json: _json, print: _print, wait: _wait, help: _help, debug: _debug, ...args } = values;
  const command = spec.name.replace(' ', '.');
  const outcome = (result: unknown): Outcome => ({ result, human: () => formatHuman(command, result) });
  const access = await reach(config, waitSeconds, io);
  if (access.via === 'server') return outcome(await callAdminSocket(config.dataDir, command, args));
  const { database, lock } = access;
  try {
    await migrate(database.db);
    return outcome(await runAdminCommand(await createServices(config, database), command, args));
  } finally {
    await database.close();
    await lock?.release();
  }
}

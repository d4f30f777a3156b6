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
import { parseCommandLine, UsageError } from './args.js';
import type { CommandSpec } from './commands.js';
import { reachDataDir, ServerBusyError, type DataDirAccess } from './data-dir-access.js';
import { formatHuman, pickField } from './format.js';
import { helpText, version } from './help.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
}

/** What `run` answers when the command is a server that keeps running. */
export const KEEP_RUNNING = -1;

const ROLES: Record<string, Roles> = {
  start: { api: true, worker: true },
  api: { api: true, worker: false },
  worker: { api: false, worker: true },
};

/** Runs one command line; answers its exit code (0, 1 refused or failed, 2 wrong command line) or KEEP_RUNNING. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let command = '';
  try {
    const invocation = parseCommandLine(argv);
    if (invocation.kind === 'version') {
      io.stdout(`keplars-server ${version()}\n`);
      return 0;
    }
    if (invocation.kind === 'help') {
      io.stdout(helpText(invocation.topic));
      return 0;
    }
    const { spec, values } = invocation;
    command = spec.name;
    const config = loadConfig(io.env);
    const waitSeconds = typeof values.wait === 'string' ? Number(values.wait) : config.cliWaitSeconds;
    if (spec.kind === 'server') return await runServer(config, spec.name);
    const { result, human } = spec.kind === 'migrate' ? await runMigrate(config, waitSeconds, io) : await runAdmin(config, waitSeconds, spec, values, io);
    if (typeof values.print === 'string') io.stdout(`${pickField(result, values.print)}\n`);
    else io.stdout(values.json === true ? `${JSON.stringify(result, null, 2)}\n` : human());
    return 0;
  } catch (err) {
    const debug = argv.includes('--debug') || ['1', 'true', 'yes'].includes(io.env.DEBUG ?? '');
    const { code, text } = describeError(err, command, debug);
    // whatever a library put in its message (a connection string, a relay URL) leaves with its secrets hidden
    io.stderr(`${redactSecrets(text)}\n`);
    return code;
  }
}

/** A command's result, and how it reads for people (--json prints the result itself). */
interface Outcome {
  result: unknown;
  human(): string;
}

/**
 * A user's mistake, a refusal or a problem of the machine is one line saying what is wrong and what to do;
 * anything else is a bug, reported with its message (and its stack with --debug or DEBUG=1).
 */
export function describeError(err: unknown, command: string, debug: boolean): { code: number; text: string } {
  const who = command ? `keplars-server ${command}` : 'keplars-server';
  if (err instanceof UsageError) return { code: 2, text: `${err.command ? `keplars-server ${err.command}` : who}: ${err.message}. Try: ${err.hint}` };
  if (err instanceof ConfigError) {
    return { code: 1, text: `${who}: Invalid configuration: ${err.problems.join('; ')}. Fix the environment (README, Configuration) and run it again.` };
  }
  if (err instanceof ApiError && err.code !== 'INTERNAL_ERROR') return { code: 1, text: `${who}: ${err.message}` };
  if (err instanceof DataDirLockedError || err instanceof ServerBusyError) return { code: 1, text: `${who}: ${err.message}` };
  const message = err instanceof Error ? err.message : String(err);
  const systemCode = (err as { code?: unknown } | null)?.code;
  // the machine said no (a refused connection, a missing or unreadable folder): not a bug, and the message says what
  if (typeof systemCode === 'string' && /^E[A-Z]+$/.test(systemCode)) return { code: 1, text: `${who}: ${oneLine(message)} (${systemCode}). Check DATABASE_URL, DATA_DIR and the other settings it names.` };
  // PostgreSQL refused the connection: unreachable (08), authentication (28), no such database (3D)
  if (typeof systemCode === 'string' && /^(08|28|3D)[0-9A-Z]{3}$/.test(systemCode)) return { code: 1, text: `${who}: PostgreSQL refused: ${oneLine(message)}. Check DATABASE_URL.` };
  if (debug) return { code: 1, text: `${who}: unexpected error: ${err instanceof Error && err.stack ? err.stack : message}` };
  return { code: 1, text: `${who}: unexpected error: ${oneLine(message)}. This is a bug: please report it with the output of the same command run with --debug (or DEBUG=1).` };
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').slice(0, 2000);

async function runServer(config: Config, command: string): Promise<number> {
  const roles = ROLES[command]!;
  if (!config.databaseUrl && command !== 'start') {
    throw new ApiError('VALIDATION_ERROR', `'${command}' runs one role so that several processes can share PostgreSQL; set DATABASE_URL, or use 'start' for the embedded database`);
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

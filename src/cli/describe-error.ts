import { ConfigError } from '../config/config.js';
import { ApiError } from '../platform/http/errors.js';
import { DataDirLockedError } from '../platform/embedded/data-dir-lock.js';
import { UsageError, usageLine } from './args.js';
import { ServerBusyError } from './data-dir-access.js';

/**
 * A user's mistake, a refusal or a problem of the machine is one line saying what is wrong and what to do;
 * anything else is a bug, reported with its message (and its stack with --debug or DEBUG=1).
 */
export function describeError(err: unknown, command: string, debug: boolean): { code: number; text: string } {
  const who = command ? `keplars-server ${command}` : 'keplars-server';
  if (err instanceof UsageError) return { code: 2, text: usageLine(err) };
  if (err instanceof ConfigError) {
    return { code: 1, text: `${who}: Invalid configuration: ${err.problems.join('; ')}. Fix the environment (README, Configuration) and run it again.` };
  }
  if (err instanceof ApiError && err.code !== 'INTERNAL_ERROR') return { code: 1, text: `${who}: ${err.message}` };
  if (err instanceof DataDirLockedError || err instanceof ServerBusyError) return { code: 1, text: `${who}: ${err.message}` };
  const message = err instanceof Error ? err.message : String(err);
  const systemCode = (err as { code?: unknown } | null)?.code;
  // the machine said no (a refused connection, a missing or unreadable folder): not a bug, and the message says what
  if (typeof systemCode === 'string' && /^E[A-Z]+$/.test(systemCode)) return { code: 1, text: `${who}: ${oneLine(message)}${message.includes(systemCode) ? '' : ` (${systemCode})`}. Check DATABASE_URL, DATA_DIR and the other settings it names.` };
  // PostgreSQL refused the connection: unreachable (08), authentication (28), no such database (3D)
  if (typeof systemCode === 'string' && /^(08|28|3D)[0-9A-Z]{3}$/.test(systemCode)) return { code: 1, text: `${who}: PostgreSQL refused: ${oneLine(message)}. Check DATABASE_URL.` };
  if (debug) return { code: 1, text: `${who}: unexpected error: ${err instanceof Error && err.stack ? err.stack : message}` };
  return { code: 1, text: `${who}: unexpected error: ${oneLine(message)}. This is a bug: please report it with the output of the same command run with --debug (or DEBUG=1).` };
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').slice(0, 2000);

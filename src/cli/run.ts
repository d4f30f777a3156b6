import { redactSecrets } from '../config/redact.js';
import { parseCommandLine, UsageError, usageLine } from './args.js';
import { helpText, version } from './help.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  /** stderr is a terminal: progress may redraw its line */
  isTTY?: boolean;
}

/** What `run` answers when the command is a server that keeps running. */
export const KEEP_RUNNING = -1;

/**
 * Runs one command line; answers its exit code (0 done, 1 refused or failed, 2 a wrong command line) or
 * KEEP_RUNNING. Help, the version and a wrong command line are answered before the server's code is loaded.
 */
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
    command = invocation.spec.name;
    const { execute } = await import('./execute.js');
    return await execute(invocation.spec, invocation.values, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`${redactSecrets(usageLine(err))}\n`);
      return 2;
    }
    const debug = argv.includes('--debug') || ['1', 'true', 'yes'].includes(io.env.DEBUG ?? '');
    const { describeError } = await import('./describe-error.js');
    const { code, text } = describeError(err, command, debug);
    // whatever a library put in its message (a connection string, a relay URL) leaves with its secrets hidden
    io.stderr(`${redactSecrets(text)}\n`);
    return code;
  }
}

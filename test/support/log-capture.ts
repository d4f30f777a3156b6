import { Writable } from 'node:stream';
import { createLogger, type LogFormat, type Logger } from '../../src/platform/logger.js';

export interface CapturedLog {
  logger: Logger;
  /** everything written so far, as written */
  text(): string;
  /** the JSON lines written so far (json format only) */
  lines(): Record<string, unknown>[];
}

/** A real logger at `level` whose lines are kept in memory, for tests that read what the server logged. */
export function captureLog(level = 'info', format: LogFormat = 'json'): CapturedLog {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const logger = createLogger(level, { format, destination });
  return {
    logger,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

import { pino, type Logger } from 'pino';

export type { Logger };

/** Secrets never reach the log: authorization headers and key material are redacted wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.secret_key', 'secret_key', '*.password', 'password'],
      censor: '[redacted]',
    },
  });
}

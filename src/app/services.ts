import type { Config } from '../config/config.js';
import type { Database } from '../platform/db/database.js';
import { QueueSignal } from '../platform/queue/signal.js';
import { EmailService } from '../modules/emails/service.js';
import { KeyService } from '../modules/keys/service.js';
import { SendingService } from '../modules/sending/service.js';
import { WorkspaceService } from '../modules/workspaces/service.js';

export interface Services {
  config: Config;
  database: Database;
  signal: QueueSignal;
  keys: KeyService;
  workspaces: WorkspaceService;
  sending: SendingService;
  emails: EmailService;
}

export function createServices(config: Config, database: Database): Services {
  const db = database.db;
  const signal = new QueueSignal(database);
  const keys = new KeyService(db);
  return {
    config,
    database,
    signal,
    keys,
    workspaces: new WorkspaceService(db, keys),
    // PGlite has one connection, so more than one commit in flight would only queue
    sending: new SendingService(db, signal, config, { maxConcurrentCommits: database.kind === 'pglite' ? 1 : 4 }),
    emails: new EmailService(db),
  };
}

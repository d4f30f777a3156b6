import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { createServices } from '../app/services.js';
import { importView } from '../modules/contacts/index.js';
import { callAdminSocket } from '../platform/embedded/admin-socket.js';
import type { Database } from '../platform/db/database.js';
import type { DataDirLock } from '../platform/embedded/data-dir-lock.js';
import { migrate } from '../platform/db/migrate.js';
import { ApiError } from '../platform/http/errors.js';
import type { CliIo } from './run.js';

type ImportResult = ReturnType<typeof importView>;

/** Without a terminal (CI, a log file) a plain line this often; on one, the bar is redrawn at most 10 times a second. */
const LINE_EVERY_MS = 5000;
const REDRAW_EVERY_MS = 100;
/** How often the server's import is looked at when a running server does the work. */
const POLL_MS = 500;
const BAR = 30;

const n = (x: number) => x.toLocaleString('en-US');

/** Progress on stderr: a bar with rows/s on a terminal, periodic plain lines elsewhere. */
class ProgressView {
  private readonly started = Date.now();
  private last = 0;

  constructor(
    private readonly io: CliIo,
    private readonly totalBytes: number,
  ) {}

  update(p: ImportResult, bytesRead: number | null, final = false): void {
    const now = Date.now();
    if (!final && now - this.last < (this.io.isTTY ? REDRAW_EVERY_MS : LINE_EVERY_MS)) return;
    this.last = now;
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const rate = `${n(Math.round(p.rows_read / seconds))} rows/s`;
    const counts = `${n(p.rows_read)} rows read: ${n(p.created)} created, ${n(p.updated)} updated, ${n(p.skipped)} skipped, ${n(p.failed)} failed`;
    if (this.io.isTTY) {
      const share = final ? 1 : bytesRead !== null && this.totalBytes > 0 ? Math.min(1, bytesRead / this.totalBytes) : 0;
      const filled = Math.round(share * BAR);
      this.io.stderr(`\r[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${String(Math.round(share * 100)).padStart(3)}%  ${counts}  ${rate}\x1b[K`);
      if (final) this.io.stderr('\n');
    } else if (!final) {
      this.io.stderr(`${new Date(now).toISOString()} ${counts} (${rate})\n`);
    }
  }
}

export interface ImportOutcome {
  result: ImportResult;
  human(): string;
}

function summary(r: ImportResult, file: string): string {
  const lines =
    r.status === 'failed'
      ? [`Import of ${file} failed: ${r.error ?? 'unknown error'}`]
      : [`Imported ${file}: ${n(r.rows_read)} rows read, ${n(r.created)} created, ${n(r.updated)} updated, ${n(r.skipped)} unchanged, ${n(r.failed)} refused.`];
  if (r.errors.length > 0) {
    lines.push('Refused rows (line, column: reason):');
    for (const e of r.errors.slice(0, 20)) lines.push(`  ${e.row}, ${e.column ?? '(row)'}: ${e.reason}`);
    if (r.errors_total > 20) lines.push(`  … and ${n(r.errors_total - 20)} more (--json lists the first ${n(r.errors.length)})`);
  }
  return `${lines.join('\n')}\n`;
}

/** The import failed as a whole: exit code 1, after the summary. */
export class ImportFailedError extends ApiError {
  constructor(readonly outcome: ImportOutcome) {
    super('VALIDATION_ERROR', outcome.human().trimEnd());
  }
}

/**
 * `keplars-server contacts import FILE`: in this process when it has the database (it stores the file as the
 * API would, then runs the import here rather than as a job), else through the server that holds DATA_DIR.
 */
export async function runImportCommand(
  config: Config,
  access: { via: 'server' } | { via: 'database'; database: Database; lock: DataDirLock | null },
  values: Record<string, unknown>,
  io: CliIo,
): Promise<ImportOutcome> {
  const file = path.resolve(String(values.file));
  let size: number;
  try {
    const stat = await fs.promises.stat(file);
    if (!stat.isFile()) throw new Error('not a file');
    size = stat.size;
  } catch {
    throw new ApiError('NOT_FOUND', `No readable file at ${file}`);
  }
  const workspace = String(values.workspace);
  const audience = typeof values.audience === 'string' ? values.audience : undefined;
  const view = new ProgressView(io, size);
  io.stderr(`Importing ${file} (${n(size)} bytes)…\n`);
  let result: ImportResult;
  if (access.via === 'server') {
    const args = { workspace, file, ...(audience ? { audience } : {}) };
    let current = ((await callAdminSocket(config.dataDir, 'contacts.import-file', args)) as { import: ImportResult }).import;
    while (current.status !== 'completed' && current.status !== 'failed') {
      view.update(current, null);
      await new Promise((r) => setTimeout(r, POLL_MS));
      current = ((await callAdminSocket(config.dataDir, 'contacts.import-status', { workspace, id: current.id })) as { import: ImportResult }).import;
    }
    result = current;
  } else {
    const { database, lock } = access;
    try {
      await migrate(database.db);
      const s = await createServices(config, database);
      try {
        const ws = await s.workspaces.get(workspace).catch((err: unknown) => {
          if (err instanceof ApiError && err.code === 'NOT_FOUND') throw new ApiError('NOT_FOUND', `${err.message}. Try: keplars-server workspace list`);
          throw err;
        });
        const id = await s.contactImports.begin(ws.id, audience);
        try {
          await s.contactImports.store(id, fs.createReadStream(file));
          await s.contactImports.submit(ws.id, id, { ...(audience ? { audienceId: audience } : {}), enqueue: false });
        } catch (err) {
          await s.contactImports.discard(id);
          throw err;
        }
        await s.contactImports.run(id, (p, bytesRead) => view.update(importView(p), bytesRead));
        result = importView(await s.contactImports.get(ws.id, id));
      } finally {
        await s.content.close();
      }
    } finally {
      await database.close();
      await lock?.release();
    }
  }
  view.update(result, size, true);
  const outcome = { result, human: () => summary(result, file) };
  if (result.status === 'failed') throw new ImportFailedError(outcome);
  return outcome;
}

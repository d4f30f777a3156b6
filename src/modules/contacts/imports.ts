import { parse, type CsvError, type Parser } from 'csv-parse';
import { inTransaction, type Db } from '../../platform/db/database.js';
import type { ContactImportRow, ImportRowError } from '../../platform/db/schema.js';
import { ApiError, notFound } from '../../platform/http/errors.js';
import { isUuid } from '../../platform/ids.js';
import { enqueueJob } from '../../platform/queue/jobs-store.js';
import type { QueueSignal } from '../../platform/queue/signal.js';
import { CSV_LIMITS, mapHeader, readRow, type ColumnMap, type ImportedRow } from './import-csv.js';
import {
  appendChunk,
  countActiveImports,
  deleteAbandonedImports,
  deleteImport,
  findImport,
  finishImport,
  insertImport,
  readChunk,
  saveProgress,
  upsertContactBatch,
  type ImportCounters,
} from './import-store.js';
import { emailKey, findAudience } from './store.js';

/** The jobs queue that runs imports (registered in app/job-handlers.ts). */
export const IMPORT_QUEUE = 'contacts.import';
/** Attempts of an import's job (each goes on from the last batch written); after the last, the import fails. */
export const IMPORT_MAX_ATTEMPTS = 5;

export interface ImportLimits {
  /** IMPORT_MAX_BYTES: an upload beyond is refused with 413 */
  maxBytes: number;
  /** IMPORT_MAX_ACTIVE: imports of one workspace receiving, queued or running at once */
  maxActivePerWorkspace: number;
}

/** The upload is stored in pieces of this size (one row of contact_import_chunks each). */
const CHUNK_BYTES = 1024 * 1024;
/** csv-parse reads a stored piece in slices, so no single parse holds the event loop long. */
const PARSE_SLICE = 64 * 1024;
/** Rows written per transaction. */
const BATCH_ROWS = 2000;
/** Progress is written at least this often (the API promises every 2 s) even when no batch is full. */
const PROGRESS_EVERY_MS = 1000;
/** The per-row error report keeps this many; `rows_failed` counts all. */
export const MAX_REPORTED_ERRORS = 1000;

export type ImportProgress = ContactImportRow;

type ParseEvent = { kind: 'record'; record: string[]; line: number } | { kind: 'skip'; reason: string; line: number };

/**
 * CSV imports of contacts (README, "Importing contacts"). An upload is stored as it arrives (begin, store,
 * submit), then run as a job that any process sharing the database can take. The job writes each batch of
 * rows and the import's counters in one transaction, with the line the counters reach: a job resumed after
 * a crash reads the file again from the start and counts nothing twice.
 */
export class ContactImportService {
  constructor(private readonly deps: { db: Db; signal: QueueSignal; limits: ImportLimits }) {}

  get limits(): ImportLimits {
    return this.deps.limits;
  }

  private async audienceOrThrow(workspaceId: string, audienceId: string): Promise<void> {
    if (!isUuid(audienceId) || !(await findAudience(this.deps.db, workspaceId, audienceId))) throw notFound('Audience');
  }

  /** A new import, receiving; refused while the workspace has as many in progress as it may. */
  async begin(workspaceId: string, audienceId?: string): Promise<string> {
    if (audienceId !== undefined) await this.audienceOrThrow(workspaceId, audienceId);
    const active = await countActiveImports(this.deps.db, workspaceId);
    if (active >= this.deps.limits.maxActivePerWorkspace) {
      throw new ApiError('RATE_LIMITED', `This workspace has ${active} imports in progress (at most ${this.deps.limits.maxActivePerWorkspace}); retry when one has finished`, {
        headers: { 'Retry-After': '30' },
      });
    }
    return (await insertImport(this.deps.db, workspaceId, audienceId ?? null)).id;
  }

  /**
   * Stores the upload in pieces as it arrives, never holding more than one piece (and the read in progress):
   * iteration waits for each write, so a fast client is slowed to the database's pace. Over the limit, 413.
   */
  async store(importId: string, source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>): Promise<number> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let total = 0;
    let seq = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const data = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await appendChunk(this.deps.db, importId, seq++, data);
    };
    for await (const piece of source) {
      const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
      total += buf.length;
      if (total > this.deps.limits.maxBytes) throw new ApiError('PAYLOAD_TOO_LARGE', `The file is larger than the import limit of ${this.deps.limits.maxBytes} bytes (IMPORT_MAX_BYTES)`);
      pending.push(buf);
      pendingBytes += buf.length;
      if (pendingBytes >= CHUNK_BYTES) await flush();
    }
    await flush();
    return total;
  }

  /** The upload is complete: the import waits for a worker (`enqueue`) or for the caller to run it (the CLI). */
  async submit(workspaceId: string, importId: string, opts: { audienceId?: string; enqueue: boolean }): Promise<ContactImportRow> {
    if (opts.audienceId !== undefined) await this.audienceOrThrow(workspaceId, opts.audienceId);
    return inTransaction(this.deps.db, async (trx) => {
      const row = await trx
        .updateTable('contact_imports')
        .set({ status: 'queued', updated_at: new Date(), ...(opts.audienceId !== undefined ? { audience_id: opts.audienceId } : {}) })
        .where('id', '=', importId)
        .where('workspace_id', '=', workspaceId)
        .returningAll()
        .executeTakeFirstOrThrow();
      if (opts.enqueue) {
        await enqueueJob(trx, this.deps.signal, { queue: IMPORT_QUEUE, payload: { importId }, dedupeKey: `contact-import:${importId}`, maxAttempts: IMPORT_MAX_ATTEMPTS });
      }
      return row;
    });
  }

  /** An upload that was refused or broke off: nothing of it stays. */
  async discard(importId: string): Promise<void> {
    await deleteImport(this.deps.db, importId);
  }

  /** Uploads that stopped arriving an hour ago (their process died while receiving): removed with their pieces. */
  async expireAbandoned(): Promise<number> {
    return deleteAbandonedImports(this.deps.db, new Date(Date.now() - 3600_000));
  }

  async get(workspaceId: string, id: string): Promise<ContactImportRow> {
    const row = isUuid(id) ? await findImport(this.deps.db, workspaceId, id) : undefined;
    if (!row) throw notFound('Import');
    return row;
  }

  /** The job of an import: a failure is retried (going on from the last batch written) until the last attempt fails the import. */
  async runJob(importId: string, attempt: number): Promise<void> {
    try {
      await this.run(importId);
    } catch (err) {
      if (attempt < IMPORT_MAX_ATTEMPTS) throw err;
      await inTransaction(this.deps.db, (trx) => finishImport(trx, importId, 'failed', `The import stopped after ${attempt} attempts: ${(err as Error).message}`));
    }
  }

  /** Runs (or resumes) an import to its end; `onProgress` hears each write of its counters, with the bytes of the file read so far. */
  async run(importId: string, onProgress?: (p: ImportProgress, bytesRead: number) => void): Promise<void> {
    const db = this.deps.db;
    const start = await findImport(db, null, importId);
    if (!start || start.status === 'completed' || start.status === 'failed' || start.status === 'receiving') return;
    let bytesRead = 0;
    const fail = async (error: string) => {
      await inTransaction(db, (trx) => finishImport(trx, importId, 'failed', error));
      onProgress?.((await findImport(db, null, importId))!, bytesRead);
    };
    if (start.audience_id && !(await findAudience(db, start.workspace_id, start.audience_id))) return fail('The audience of this import was deleted');
    await db.updateTable('contact_imports').set({ status: 'running', started_at: start.started_at ?? new Date(), updated_at: new Date() }).where('id', '=', importId).execute();

    const counters: ImportCounters = {
      rows_read: start.rows_read,
      rows_created: start.rows_created,
      rows_updated: start.rows_updated,
      rows_skipped: start.rows_skipped,
      rows_failed: start.rows_failed,
    };
    const checkpoint = start.checkpoint_line;
    let reported = start.errors.length;
    let newErrors: ImportRowError[] = [];
    let batch: ImportedRow[] = [];
    let batchKeys = new Set<string>();
    let lastLine = checkpoint;
    let lastWrite = Date.now();
    let map: ColumnMap | null = null;

    const write = async () => {
      const rows = batch;
      const errors = newErrors;
      batch = [];
      batchKeys = new Set();
      newErrors = [];
      await inTransaction(db, async (trx) => {
        if (rows.length > 0) {
          const outcome = await upsertContactBatch(trx, { workspaceId: start.workspace_id, audienceId: start.audience_id, importId, rows });
          counters.rows_created += outcome.created;
          counters.rows_updated += outcome.updated;
          counters.rows_skipped += outcome.skipped;
        }
        await saveProgress(trx, importId, counters, lastLine, errors);
      });
      lastWrite = Date.now();
      onProgress?.({ ...start, ...counters, status: 'running', checkpoint_line: lastLine, updated_at: new Date() }, bytesRead);
    };
    const failRow = (e: ImportRowError) => {
      counters.rows_failed++;
      if (reported < MAX_REPORTED_ERRORS) {
        newErrors.push(e);
        reported++;
      }
    };

    const events: ParseEvent[] = [];
    /**
     * One parser per stretch of the file. csv-parse's own record size limit drops the rest of the file once
     * reached, so the bound is kept here: a row still unfinished more than CSV_LIMITS.rowChars bytes after
     * the previous one ended (a huge value, a quote that never closes) is refused, and reading starts
     * afresh with a new parser after the next line break. Lines count from the file's start throughout.
     */
    const newParser = (lineOffset: number) => {
      const state = { lineOffset, fed: 0, lastEnd: 0, lastLine: lineOffset, error: null as Error | null };
      const parser: Parser = parse({
        bom: lineOffset === 0,
        relax_column_count: true,
        relax_quotes: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        // rows are taken here, in order with the skipped ones, rather than read from the stream
        on_record: (record: string[], context) => {
          state.lastEnd = context.bytes;
          state.lastLine = lineOffset + context.lines;
          events.push({ kind: 'record', record, line: state.lastLine });
          return null;
        },
        on_skip: (err: CsvError | undefined) => {
          const line = lineOffset + (typeof err?.lines === 'number' ? err.lines : (parser.info?.lines ?? 0));
          state.lastEnd = parser.info?.bytes ?? state.lastEnd;
          state.lastLine = line;
          events.push({ kind: 'skip', reason: err?.message ?? 'is not valid CSV', line });
        },
      });
      parser.on('error', (err) => (state.error = err));
      parser.resume();
      const feed = (slice: Buffer | null) =>
        new Promise<void>((resolve) => {
          if (!slice) return parser.end(() => resolve());
          const before = state.fed;
          const empty = parser.info?.empty_lines ?? 0;
          state.fed += slice.length;
          parser.write(slice, () => {
            // an empty line (skipped, so no record marks it) ends whatever came before: no row was under way then
            if ((parser.info?.empty_lines ?? 0) > empty) state.lastEnd = Math.max(state.lastEnd, before);
            resolve();
          });
        });
      return { parser, state, feed };
    };
    let current = newParser(0);
    /** after a row too long: the bytes up to the next line break are dropped */
    let skipping = false;

    /** Takes the parsed rows; a string when the import cannot go on (no email column). */
    const take = async (): Promise<string | null> => {
      for (const e of events.splice(0)) {
        if (!map) {
          if (e.kind === 'skip') return `The header row is not valid CSV: ${e.reason}`;
          const m = mapHeader(e.record);
          if (typeof m === 'string') return m;
          map = m;
          continue;
        }
        if (e.line <= checkpoint) continue;
        counters.rows_read++;
        lastLine = e.line;
        if (e.kind === 'skip') failRow({ row: e.line, column: null, reason: e.reason });
        else {
          const row = readRow(map, e.record, e.line);
          if ('reason' in row) failRow(row);
          else {
            const key = emailKey(row.email);
            // the same address twice in one batch: the first is written before the second is read
            if (batchKeys.has(key)) await write();
            batch.push(row);
            batchKeys.add(key);
          }
        }
        if (batch.length >= BATCH_ROWS || Date.now() - lastWrite >= PROGRESS_EVERY_MS) await write();
      }
      return null;
    };
    const readError = () => (current.state.error ? `The file could not be read as CSV: ${current.state.error.message}` : null);

    for (let seq = 0; ; seq++) {
      const chunk = await readChunk(db, importId, seq);
      if (!chunk) break;
      for (let at = 0; at < chunk.length; at += PARSE_SLICE) {
        let slice = chunk.subarray(at, at + PARSE_SLICE);
        bytesRead += slice.length;
        if (skipping) {
          const lf = slice.indexOf(10);
          if (lf < 0) continue;
          slice = slice.subarray(lf + 1);
          skipping = false;
        }
        await current.feed(slice);
        const fatal = readError() ?? (await take());
        if (fatal) return fail(fatal);
        if (current.state.fed - current.state.lastEnd > CSV_LIMITS.rowChars) {
          // the row under way is too long: refuse it and go on after the line the parser is on
          const row = current.state.lastLine + 1;
          if (!map) return fail(`The header row is longer than ${CSV_LIMITS.rowChars} bytes`);
          const at = current.state.lineOffset + current.parser.info.lines;
          current.parser.destroy();
          if (row > checkpoint) {
            counters.rows_read++;
            lastLine = Math.max(lastLine, row);
            failRow({ row, column: null, reason: `is longer than ${CSV_LIMITS.rowChars} bytes (or a quote never closes); reading goes on at line ${at + 1}` });
          }
          current = newParser(at);
          skipping = true;
        }
      }
    }
    await current.feed(null);
    const fatal = readError() ?? (await take());
    if (fatal) return fail(fatal);
    if (!map) return fail('The file is empty: its first row must name the columns, one of them "email"');
    await write();
    await inTransaction(db, (trx) => finishImport(trx, importId, 'completed', null));
    onProgress?.((await findImport(db, null, importId))!, bytesRead);
  }
}

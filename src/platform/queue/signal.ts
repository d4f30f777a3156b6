import { EventEmitter } from 'node:events';
import { sql, type AliasedRawBuilder } from 'kysely';
import type { Database, Db, Tx } from '../db/database.js';

export const QUEUE_CHANNEL = 'keplars_queue';
/** Wakes every consumer whatever its topic: sent when a lost LISTEN connection is back, since NOTIFYs sent meanwhile were missed. */
export const ANY_TOPIC = '*';

/**
 * Wakes idle workers the moment work is committed: NOTIFY (delivered at commit) reaches every process on
 * PostgreSQL, and an in-process event reaches this process's workers on both backends. Polling remains only
 * as the fallback for missed signals.
 */
export class QueueSignal {
  private readonly emitter = new EventEmitter();
  private unlisten: (() => Promise<void>) | null = null;

  constructor(private readonly database: Database) {
    this.emitter.setMaxListeners(0);
  }

  /** Call inside the transaction that makes work claimable; NOTIFY is sent only if it commits. */
  async notifyInTransaction(trx: Tx | Db, topic: string): Promise<void> {
    if (this.database.kind === 'postgres') await sql`SELECT pg_notify(${QUEUE_CHANNEL}, ${topic})`.execute(trx);
  }

  /**
   * The NOTIFYs of a statement that makes work claimable, as its select list: one per topic on PostgreSQL (sent
   * only if the statement commits), a constant on the embedded database, where wakeLocal does it all.
   */
  notifications(topics: readonly string[]): AliasedRawBuilder<unknown, string>[] {
    if (this.database.kind !== 'postgres' || topics.length === 0) return [sql`1`.as('notified')];
    return topics.map((topic, i) => sql`pg_notify(${QUEUE_CHANNEL}, ${topic})`.as(`notified_${i}`));
  }

  /** Call after commit. */
  wakeLocal(topic: string): void {
    this.emitter.emit('wake', topic);
  }

  async start(): Promise<void> {
    if (this.database.kind === 'postgres' && !this.unlisten) {
      this.unlisten = await this.database.listen(
        QUEUE_CHANNEL,
        (topic) => this.emitter.emit('wake', topic),
        () => this.emitter.emit('wake', ANY_TOPIC),
      );
    }
  }

  onWake(listener: (topic: string) => void): () => void {
    this.emitter.on('wake', listener);
    return () => this.emitter.off('wake', listener);
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    this.unlisten = null;
  }
}

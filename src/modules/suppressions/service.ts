import type { Db } from '../../platform/db/database.js';
import * as store from './store.js';

export type { ListChange, Suppression, SuppressionEntry } from './store.js';

/**
 * The workspace's suppression list (migrations/010_suppressions.sql; README, "Unsubscribe and the suppression
 * list"): addresses not to mail, per tier scope. Delivery reads it in its claim (modules/delivery/store.ts);
 * this service writes it. Today an unsubscribe link is its only writer; bounces, complaints and an API come later.
 */
export class SuppressionService {
  constructor(private readonly db: Db) {}

  /**
   * Adds an address for a scope, on `db` or inside the caller's transaction (a bounce's or complaint's record,
   * modules/delivery/async-outcome.ts). Static so that callers holding only a transaction need no instance.
   */
  static suppress(db: Db, s: store.Suppression): Promise<boolean> {
    return store.suppress(db, s);
  }

  /** The address leaves the workspace's `bulk` mail; true when it was not on the list for it yet. */
  addUnsubscribe(change: store.ListChange): Promise<boolean> {
    return store.addUnsubscribe(this.db, change);
  }

  /** Takes back an unsubscribe (never another reason's entry); true when there was one. */
  liftUnsubscribe(change: store.ListChange): Promise<boolean> {
    return store.liftUnsubscribe(this.db, change);
  }

  find(workspaceId: string, email: string): Promise<store.SuppressionEntry[]> {
    return store.findByAddress(this.db, workspaceId, email);
  }
}

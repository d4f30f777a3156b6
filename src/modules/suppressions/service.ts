import type { Db } from '../../platform/db/database.js';
import * as store from './store.js';

export type { ListChange, Suppression, SuppressionEntry, SuppressionListRow } from './store.js';
export { SOFT_BOUNCE_LIMIT } from './store.js';

/**
 * The workspace's suppression list (migrations/010_suppressions.sql; README, "Unsubscribe and the suppression
 * list"): addresses not to mail, per tier scope. Delivery reads it in its claim (modules/delivery/store.ts);
 * this service writes it: unsubscribe links, bounces and complaints (the delivery module, through the static
 * methods, inside its own transactions), and the API and CLI.
 */
export class SuppressionService {
  constructor(private readonly db: Db) {}

  /**
   * Adds an address (a hard bounce, a complaint, the operator's) with `db` being the caller's transaction, so the
   * outcome that caused it and the entry commit together; blocks its contact for the `all` scope. True when added.
   */
  static suppress(db: Db, entry: store.Suppression): Promise<boolean> {
    return store.suppress(db, entry);
  }

  /** One more soft bounce of the address; true when it reached SOFT_BOUNCE_LIMIT and suppressed the address. */
  static recordSoftBounce(db: Db, entry: Omit<store.Suppression, 'scope' | 'reason'>): Promise<boolean> {
    return store.recordSoftBounce(db, entry);
  }

  /** POST /api/v1/suppressions: the operator's entry; true when it was not on the list for that scope yet. */
  add(entry: Omit<store.Suppression, 'sourceEmailId'>): Promise<boolean> {
    return store.suppress(this.db, { ...entry, sourceEmailId: null });
  }

  list(filter: store.SuppressionListFilter): Promise<store.SuppressionListRow[]> {
    return store.list(this.db, filter);
  }

  /** Reactivates the address: every scope and reason leaves the list; the entries removed (none: it was not listed). */
  remove(workspaceId: string, email: string): Promise<store.SuppressionEntry[]> {
    return store.remove(this.db, workspaceId, email);
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

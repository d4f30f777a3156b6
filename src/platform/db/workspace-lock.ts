import type { Tx } from './database.js';

/**
 * Locks a workspace's row for the rest of the transaction, so concurrent requests that count something of the
 * workspace against a cap (domains, keys) count one after the other and cannot overshoot it. False when the
 * workspace does not exist.
 */
export async function lockWorkspace(trx: Tx, workspaceId: string): Promise<boolean> {
  return (await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).forUpdate().executeTakeFirst()) !== undefined;
}

import type { Db } from '../../platform/db/database.js';
import type { WorkspaceRow } from '../../platform/db/schema.js';

export async function insertWorkspace(db: Db, ws: { id: string; name: string; plan: string }): Promise<WorkspaceRow> {
  return db.insertInto('workspaces').values(ws).returningAll().executeTakeFirstOrThrow();
}

export function findWorkspace(db: Db, id: string): Promise<WorkspaceRow | undefined> {
  return db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listWorkspaces(db: Db): Promise<WorkspaceRow[]> {
  return db.selectFrom('workspaces').selectAll().orderBy('created_at').execute();
}

export async function updatePlan(db: Db, id: string, plan: string): Promise<WorkspaceRow | undefined> {
  return db.updateTable('workspaces').set({ plan }).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Sets the tracking defaults given (undefined leaves one as it is); undefined when there is no such workspace. */
export async function updateTracking(db: Db, id: string, t: { opens?: boolean; clicks?: boolean }): Promise<WorkspaceRow | undefined> {
  return db
    .updateTable('workspaces')
    .set((eb) => ({
      track_opens_default: t.opens ?? eb.ref('track_opens_default'),
      track_clicks_default: t.clicks ?? eb.ref('track_clicks_default'),
    }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Sets the zone of date_time automation triggers; undefined when there is no such workspace. */
export async function updateTimezone(db: Db, id: string, timezone: string): Promise<WorkspaceRow | undefined> {
  return db.updateTable('workspaces').set({ timezone }).where('id', '=', id).returningAll().executeTakeFirst();
}

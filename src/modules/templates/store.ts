import { inTransaction, type Db } from '../../platform/db/database.js';
import type { TemplateRow, TemplateVersionRow } from '../../platform/db/schema.js';

export interface VersionContent {
  subject: string;
  html: string;
  textBody: string | null;
  sourceFormat: 'html' | 'mjml' | 'blocks';
  source: string | null;
  requiredVariables: string[];
}

export interface TemplateMeta {
  name: string;
  description: string | null;
  category: string | null;
}

export async function createTemplate(db: Db, t: { id: string; workspaceId: string } & TemplateMeta, v: VersionContent): Promise<TemplateRow> {
  return inTransaction(db, async (trx) => {
    const row = await trx
      .insertInto('templates')
      .values({ id: t.id, workspace_id: t.workspaceId, name: t.name, description: t.description, category: t.category, current_version: 1 })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.insertInto('template_versions').values(versionRow(t.id, 1, v)).execute();
    return row;
  });
}

function versionRow(templateId: string, version: number, v: VersionContent) {
  return {
    template_id: templateId,
    version,
    subject: v.subject,
    html: v.html,
    text_body: v.textBody,
    source_format: v.sourceFormat,
    source: v.source,
    required_variables: v.requiredVariables,
  };
}

/** The version number comes from the locked template row, so concurrent updates get distinct versions. */
export async function addVersion(db: Db, workspaceId: string, id: string, meta: Partial<TemplateMeta>, v: VersionContent): Promise<TemplateRow | undefined> {
  return inTransaction(db, async (trx) => {
    const current = await trx
      .selectFrom('templates')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .where('deleted_at', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (!current) return undefined;
    const version = current.current_version + 1;
    await trx.insertInto('template_versions').values(versionRow(id, version, v)).execute();
    return trx
      .updateTable('templates')
      .set({ current_version: version, updated_at: new Date(), ...meta })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

export function findTemplate(db: Db, workspaceId: string, id: string): Promise<TemplateRow | undefined> {
  return db.selectFrom('templates').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
}

export function findVersion(db: Db, templateId: string, version: number): Promise<TemplateVersionRow | undefined> {
  return db.selectFrom('template_versions').selectAll().where('template_id', '=', templateId).where('version', '=', version).executeTakeFirst();
}

export function listVersions(db: Db, templateId: string): Promise<Pick<TemplateVersionRow, 'version' | 'created_at'>[]> {
  return db.selectFrom('template_versions').select(['version', 'created_at']).where('template_id', '=', templateId).orderBy('version', 'desc').execute();
}

export function listTemplates(db: Db, workspaceId: string): Promise<TemplateRow[]> {
  return db.selectFrom('templates').selectAll().where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).orderBy('created_at', 'desc').limit(1000).execute();
}

export async function softDelete(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const res = await db
    .updateTable('templates')
    .set({ deleted_at: new Date() })
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

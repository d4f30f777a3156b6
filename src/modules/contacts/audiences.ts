import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { AudienceRow } from '../../platform/db/schema.js';
import { notFound } from '../../platform/http/errors.js';
import type { TokenSigner } from '../../platform/tokens.js';
import { deleteAudienceRow, findAudience, insertAudience } from './store.js';

export const AUDIENCE_SORT_KEYS = ['name', 'contactCount', 'createdAt'] as const;
export type AudienceSortKey = (typeof AUDIENCE_SORT_KEYS)[number];
const SORT_COLUMNS = { name: 'name', contactCount: 'contact_count', createdAt: 'created_at' } as const satisfies Record<AudienceSortKey, string>;

/** The purpose a subscribe-form token is signed for (platform/tokens.ts binds each token to one). */
export const SUBSCRIBE_TOKEN_PURPOSE = 'subscribe';

export interface AudienceView extends AudienceRow {
  /** the hosted subscribe form (decisions §15): `PUBLIC_URL/s/<token>`, stable for the audience's life */
  subscribe_url: string;
}

export interface AudienceListQuery {
  page: number;
  limit: number;
  sortBy: AudienceSortKey;
  sortDir: 'asc' | 'desc';
}

/** Audiences of a workspace (spec §5); members and their counts live with the contacts (service.ts). */
export class AudienceService {
  constructor(
    private readonly db: Db,
    private readonly tokens: TokenSigner,
    /** read on each use: the server corrects PUBLIC_URL once it knows its port (config.ts) */
    private readonly site: { readonly publicUrl: string },
  ) {}

  /** The token names the workspace too, so a form never reaches across workspaces. */
  subscribeToken(a: Pick<AudienceRow, 'id' | 'workspace_id'>): string {
    return this.tokens.sign(SUBSCRIBE_TOKEN_PURPOSE, `${a.workspace_id}/${a.id}`);
  }

  /** The audience a subscribe token names, or undefined when the token is not ours or the audience is gone. */
  async fromSubscribeToken(token: string): Promise<AudienceRow | undefined> {
    const value = this.tokens.verify(SUBSCRIBE_TOKEN_PURPOSE, token);
    const [workspaceId, id] = value?.split('/') ?? [];
    if (!workspaceId || !id) return undefined;
    return findAudience(this.db, workspaceId, id);
  }

  /** The audience, or undefined (a signed link naming an audience that was deleted since). */
  find(workspaceId: string, id: string): Promise<AudienceRow | undefined> {
    return findAudience(this.db, workspaceId, id);
  }

  private view(a: AudienceRow): AudienceView {
    return { ...a, subscribe_url: `${this.site.publicUrl}/s/${this.subscribeToken(a)}` };
  }

  async create(workspaceId: string, input: { name: string; description?: string | null; doubleOptIn?: boolean }): Promise<AudienceView> {
    return this.view(await insertAudience(this.db, { workspaceId, name: input.name, description: input.description ?? null, doubleOptIn: input.doubleOptIn ?? false }));
  }

  async get(workspaceId: string, id: string): Promise<AudienceView> {
    const a = await findAudience(this.db, workspaceId, id);
    if (!a) throw notFound('Audience');
    return this.view(a);
  }

  async list(workspaceId: string, q: AudienceListQuery): Promise<{ audiences: AudienceView[]; total: number }> {
    const [rows, counted] = await Promise.all([
      this.db
        .selectFrom('audiences')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .orderBy(SORT_COLUMNS[q.sortBy], q.sortDir)
        .orderBy('id', q.sortDir)
        .limit(q.limit)
        .offset((q.page - 1) * q.limit)
        .execute(),
      this.db.selectFrom('audiences').select(sql<number>`count(*)::int`.as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow(),
    ]);
    return { audiences: rows.map((a) => this.view(a)), total: counted.n };
  }

  /** Deleting an audience removes its memberships, never its contacts (spec §4.6). */
  async delete(workspaceId: string, id: string): Promise<void> {
    if (!(await deleteAudienceRow(this.db, workspaceId, id))) throw notFound('Audience');
  }
}

import { PLANS, type Plan } from '../../config/config.js';
import type { Db } from '../../platform/db/database.js';
import type { WorkspaceRow } from '../../platform/db/schema.js';
import { ApiError } from '../../platform/http/errors.js';
import { isUuid, uuidv7 } from '../../platform/ids.js';
import type { KeyService, PublicKey } from '../keys/index.js';
import * as store from './store.js';

export interface PublicWorkspace {
  id: string;
  name: string;
  plan: Plan;
  created_at: string;
}

export function toPublicWorkspace(row: WorkspaceRow): PublicWorkspace {
  return { id: row.id, name: row.name, plan: row.plan as Plan, created_at: row.created_at.toISOString() };
}

export function parsePlan(value: string): Plan {
  const plan = value.toUpperCase();
  if (!(PLANS as readonly string[]).includes(plan)) {
    throw new ApiError('VALIDATION_ERROR', `Plan must be one of ${PLANS.join(', ')}`);
  }
  return plan as Plan;
}

export class WorkspaceService {
  constructor(
    private readonly db: Db,
    private readonly keys: KeyService,
    /** the plan of a workspace created without one (DEFAULT_PLAN) */
    private readonly defaultPlan: Plan,
  ) {}

  /** A new workspace comes with one admin key holding every scope, shown only in this answer. */
  async create(opts: { name: string; plan?: string }): Promise<{ workspace: PublicWorkspace; adminKey: string; adminKeyInfo: PublicKey }> {
    const name = opts.name.trim();
    if (!name) throw new ApiError('VALIDATION_ERROR', 'Workspace name is required');
    const plan = opts.plan === undefined ? this.defaultPlan : parsePlan(opts.plan);
    const row = await store.insertWorkspace(this.db, { id: uuidv7(), name, plan });
    const created = await this.keys.createAdminKey({ workspaceId: row.id, name: 'Initial admin key' });
    return { workspace: toPublicWorkspace(row), adminKey: created.secretKey, adminKeyInfo: created.key };
  }

  async get(id: string): Promise<PublicWorkspace> {
    const row = isUuid(id) ? await store.findWorkspace(this.db, id) : undefined;
    if (!row) throw new ApiError('NOT_FOUND', `Workspace ${id} not found`);
    return toPublicWorkspace(row);
  }

  async list(): Promise<PublicWorkspace[]> {
    return (await store.listWorkspaces(this.db)).map(toPublicWorkspace);
  }

  async setPlan(id: string, plan: string): Promise<PublicWorkspace> {
    const row = isUuid(id) ? await store.updatePlan(this.db, id, parsePlan(plan)) : undefined;
    if (!row) throw new ApiError('NOT_FOUND', `Workspace ${id} not found`);
    return toPublicWorkspace(row);
  }
}

import { PLANS, type Plan } from '../../config/config.js';
import type { Db } from '../../platform/db/database.js';
import type { WorkspaceRow } from '../../platform/db/schema.js';
import { ApiError } from '../../platform/http/errors.js';
import { isUuid, uuidv7 } from '../../platform/ids.js';
import { isValidTimeZone } from '../automations/index.js';
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

/** A workspace's tracking defaults: whether a send that does not say is tracked (README, "Tracking"). */
export interface TrackingDefaults {
  opens: boolean;
  clicks: boolean;
}

/** `on` or `off` (any case), as the CLI takes them; undefined when not given. */
function readOnOff(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (v === 'on' || v === 'off') return v === 'on';
  throw new ApiError('VALIDATION_ERROR', `--${name} must be on or off`);
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

  /**
   * Turns tracking on or off by default for the workspace's sends (a send's track_opens / track_clicks still wins).
   * Keys carry the defaults in their cache, so every API process sees the change within two seconds.
   */
  async setTracking(id: string, o: { opens?: string; clicks?: string }): Promise<{ workspace: PublicWorkspace; tracking: TrackingDefaults }> {
    const opens = readOnOff('opens', o.opens);
    const clicks = readOnOff('clicks', o.clicks);
    if (opens === undefined && clicks === undefined) throw new ApiError('VALIDATION_ERROR', 'Give --opens on|off, --clicks on|off or both');
    const row = isUuid(id) ? await store.updateTracking(this.db, id, { ...(opens !== undefined ? { opens } : {}), ...(clicks !== undefined ? { clicks } : {}) }) : undefined;
    if (!row) throw new ApiError('NOT_FOUND', `Workspace ${id} not found`);
    this.keys.forget();
    return { workspace: toPublicWorkspace(row), tracking: { opens: row.track_opens_default, clicks: row.track_clicks_default } };
  }

  /**
   * The IANA zone in which date_time automation triggers fire for contacts without a valid `timezone` field of
   * their own (README, "Automation triggers"). Scans read it on each run, so the change applies from the next one.
   */
  async setTimezone(id: string, zone: string): Promise<{ workspace: PublicWorkspace; timezone: string }> {
    if (!isValidTimeZone(zone)) throw new ApiError('VALIDATION_ERROR', `--zone must be an IANA time zone such as Europe/Berlin or UTC, not ${JSON.stringify(String(zone).slice(0, 100))}`);
    const row = isUuid(id) ? await store.updateTimezone(this.db, id, zone) : undefined;
    if (!row) throw new ApiError('NOT_FOUND', `Workspace ${id} not found`);
    return { workspace: toPublicWorkspace(row), timezone: row.timezone };
  }

  async setPlan(id: string, plan: string): Promise<PublicWorkspace> {
    const row = isUuid(id) ? await store.updatePlan(this.db, id, parsePlan(plan)) : undefined;
    if (!row) throw new ApiError('NOT_FOUND', `Workspace ${id} not found`);
    return toPublicWorkspace(row);
  }
}

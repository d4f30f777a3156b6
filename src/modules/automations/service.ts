import { inTransaction, type Db } from '../../platform/db/database.js';
import type { BackgroundPacer } from '../../platform/queue/background-pacer.js';
import { GroupCommitter } from '../../platform/queue/group-commit.js';
import { scheduleDateTrigger } from './date-trigger.js';
import { wakeWaitingSteps } from './engine-store.js';
import type { AutomationEnrollmentRow, AutomationRow, AutomationStatus, AutomationStepRunRow, ContactRow } from '../../platform/db/schema.js';
import { encodeCursor, type Cursor } from '../../platform/http/cursor.js';
import { ApiError } from '../../platform/http/errors.js';
import { uuidv7 } from '../../platform/ids.js';
import { JOBS_TOPIC } from '../../platform/queue/jobs-store.js';
import type { QueueSignal } from '../../platform/queue/signal.js';
import type { AudienceService, ContactService } from '../contacts/index.js';
import type { DomainService } from '../domains/index.js';
import { isValidEmail } from '../sending/index.js';
import type { TemplateService } from '../templates/index.js';
import { enrollContacts } from './enrollments.js';
import type { Graph, Trigger } from './graph.js';
import { graphProblems, parseSteps, referencesOf, throwIfProblems, workspaceProblems, type WorkspaceLookups } from './graph-check.js';
import * as store from './store.js';

/** Bounds what one workspace can make: every listing and every event's lookup stays small. */
export const MAX_AUTOMATIONS_PER_WORKSPACE = 1000;

export interface AutomationServiceDeps {
  db: Db;
  signal: QueueSignal;
  /** enrollment commits are background work: they give way to instant mail */
  pacer: BackgroundPacer;
  contacts: ContactService;
  audiences: AudienceService;
  templates: TemplateService;
  domains: DomainService;
  /** the capture transport (development) accepts any from address; so do automations there */
  acceptAnyFrom: boolean;
}

export interface AutomationInput {
  name: string;
  description?: string | null;
  trigger: Trigger;
  /** as the client sent them: parsed step by step (graph-check.ts) */
  steps: readonly unknown[];
}

export interface AutomationChangesInput {
  name?: string;
  description?: string | null;
  trigger?: Trigger;
  steps?: readonly unknown[];
}

/** JSON with object keys sorted: a stored graph (jsonb reorders keys) compares equal to the same graph sent again. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** An automation with what its answers show: the graph new enrollments run, and how many run now. */
export interface AutomationDetail extends AutomationRow, store.EnrollmentCounts {
  graph: Graph;
}

export interface EnrollmentDetail extends AutomationEnrollmentRow {
  email: string | null;
  history: AutomationStepRunRow[];
}

interface EnrollItem {
  workspaceId: string;
  automationId: string;
  contactId: string;
}

/** Enroll requests written in one transaction at most (each a row and a job). */
const MAX_ENROLLS_PER_COMMIT = 500;

export type EnrollOutcome = { enrolled: true; contact: ContactRow } | { enrolled: false; contact: ContactRow; reason: 'already_enrolled' };

/**
 * The state machine (README, "Automations"): draft → active; active ⇄ paused; any → archived, which is final.
 * Asking for the state an automation is already in changes nothing and succeeds.
 */
const ALLOWED_FROM: Record<Exclude<AutomationStatus, 'draft'>, readonly AutomationStatus[]> = {
  active: ['draft', 'paused'],
  paused: ['active'],
  archived: ['draft', 'active', 'paused'],
};

const VERB: Record<Exclude<AutomationStatus, 'draft'>, string> = { active: 'activated', paused: 'paused', archived: 'archived' };

function refusedTransition(a: AutomationRow, to: Exclude<AutomationStatus, 'draft'>): ApiError {
  if (a.status === 'archived') return new ApiError('CONFLICT', `Automation ${a.id} is archived: an archived automation cannot be changed`);
  return new ApiError('CONFLICT', `Automation ${a.id} is ${a.status} and cannot be ${VERB[to]}: activate it first`);
}

/** Automations of a workspace: their graphs, their states and enrolling contacts by hand or by event (spec §6). */
export class AutomationService {
  /** enroll requests that arrive together are written in one transaction, a statement per automation */
  private readonly enroller: GroupCommitter<EnrollItem, boolean>;

  constructor(private readonly deps: AutomationServiceDeps) {
    this.enroller = new GroupCommitter((items) => this.deps.pacer.run(() => this.writeEnrollments(items)), { maxConcurrent: 2, maxBatch: (items) => Math.min(items.length, MAX_ENROLLS_PER_COMMIT) });
  }

  /** Whether each item enrolled its contact; a contact asked twice in one group enrolls once. */
  private async writeEnrollments(items: EnrollItem[]): Promise<boolean[]> {
    const byAutomation = new Map<string, EnrollItem[]>();
    for (const item of items) {
      const group = byAutomation.get(item.automationId);
      if (group) group.push(item);
      else byAutomation.set(item.automationId, [item]);
    }
    const enrolled = await inTransaction(this.db, async (trx) => {
      const done = new Set<string>();
      for (const [automationId, group] of byAutomation) {
        const contactIds = [...new Set(group.map((g) => g.contactId))];
        for (const c of await enrollContacts(trx, this.deps.signal, { workspaceId: group[0]!.workspaceId, automationId, contactIds })) done.add(`${automationId}/${c}`);
      }
      return done;
    });
    if (enrolled.size > 0) this.deps.signal.wakeLocal(JOBS_TOPIC);
    return items.map((item) => enrolled.delete(`${item.automationId}/${item.contactId}`));
  }

  private get db(): Db {
    return this.deps.db;
  }

  private lookups(workspaceId: string): WorkspaceLookups {
    const { templates, audiences, domains, acceptAnyFrom } = this.deps;
    return {
      templateExists: async (id) => {
        try {
          await templates.get(workspaceId, id);
          return true;
        } catch (err) {
          if (err instanceof ApiError && err.code === 'NOT_FOUND') return false;
          throw err;
        }
      },
      audienceExists: async (id) => (await audiences.find(workspaceId, id)) !== undefined,
      senderRefusal: async (from) => {
        if (!isValidEmail(from)) return 'it is not an email address';
        if (acceptAnyFrom) return null;
        const verdict = await domains.evaluateSender(workspaceId, null, from);
        return verdict.allowed ? null : verdict.reason;
      },
    };
  }

  /** Every check of a graph and its trigger, structural first (they need no lookups). */
  private async checked(workspaceId: string, trigger: Trigger, graph: Graph): Promise<void> {
    throwIfProblems(graphProblems(graph));
    throwIfProblems(await workspaceProblems(referencesOf(graph, trigger), this.lookups(workspaceId)));
  }

  private async detail(a: AutomationRow): Promise<AutomationDetail> {
    const [graph, counts] = await Promise.all([store.findGraph(this.db, a.id, a.version), store.enrollmentCounts(this.db, [a.id])]);
    return { ...a, graph, ...counts.get(a.id)! };
  }

  private async row(workspaceId: string, id: string): Promise<AutomationRow> {
    const a = await store.findAutomation(this.db, workspaceId, id);
    if (!a) throw new ApiError('NOT_FOUND', `Automation ${id} not found`);
    return a;
  }

  async create(workspaceId: string, input: AutomationInput): Promise<AutomationDetail> {
    const graph: Graph = { steps: parseSteps(input.steps) };
    await this.checked(workspaceId, input.trigger, graph);
    const row = await inTransaction(this.db, async (trx) => {
      if ((await store.countForCreate(trx, workspaceId)) >= MAX_AUTOMATIONS_PER_WORKSPACE) {
        throw new ApiError('CONFLICT', `A workspace has at most ${MAX_AUTOMATIONS_PER_WORKSPACE} automations (archived ones included): delete some first`);
      }
      return store.insertAutomation(trx, {
        id: uuidv7(),
        workspaceId,
        name: input.name,
        description: input.description ?? null,
        triggerType: input.trigger.type,
        triggerConfig: input.trigger.config,
        graph,
      });
    });
    return this.detail(row);
  }

  async get(workspaceId: string, id: string): Promise<AutomationDetail> {
    return this.detail(await this.row(workspaceId, id));
  }

  /** get-automation (spec §6): every automation but an archived one, which is gone for the Keplars API. */
  async getLive(workspaceId: string, id: string): Promise<AutomationDetail> {
    const a = await this.row(workspaceId, id);
    if (a.status === 'archived') throw new ApiError('NOT_FOUND', `Automation ${id} not found (it is archived)`);
    return this.detail(a);
  }

  async page(workspaceId: string, q: store.PageQuery): Promise<{ automations: AutomationDetail[]; total: number }> {
    const { rows, total } = await store.pageOfAutomations(this.db, workspaceId, q);
    return { automations: await this.withCounts(rows), total };
  }

  async list(workspaceId: string, q: { limit: number; cursor?: Cursor; status?: AutomationStatus }) {
    const rows = await store.listAutomations(this.db, workspaceId, q);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const hasMore = rows.length > q.limit;
    return { automations: await this.withCounts(page), next_cursor: hasMore && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null, has_more: hasMore };
  }

  private async withCounts(rows: AutomationRow[]): Promise<AutomationDetail[]> {
    const counts = await store.enrollmentCounts(
      this.db,
      rows.map((r) => r.id),
    );
    // the graphs of a page: at most one read per automation of the page (100)
    return Promise.all(rows.map(async (r) => ({ ...r, graph: await store.findGraph(this.db, r.id, r.version), ...counts.get(r.id)! })));
  }

  /**
   * Changes the fields given. A changed graph or trigger makes a new version: running enrollments go on with the
   * version they started on, new ones start on the new one. An archived automation cannot change.
   */
  async update(workspaceId: string, id: string, input: AutomationChangesInput): Promise<AutomationDetail> {
    const current = await this.row(workspaceId, id);
    const oldGraph = await store.findGraph(this.db, current.id, current.version);
    const graph: Graph = input.steps !== undefined ? { steps: parseSteps(input.steps) } : oldGraph;
    const trigger = input.trigger ?? ({ type: current.trigger_type, config: current.trigger_config } as Trigger);
    const graphChanged = canonical(graph) !== canonical(oldGraph);
    const triggerChanged = input.trigger !== undefined && (input.trigger.type !== current.trigger_type || canonical(input.trigger.config) !== canonical(current.trigger_config));
    if (graphChanged || triggerChanged) await this.checked(workspaceId, trigger, graph);
    const row = await inTransaction(this.db, async (trx) => {
      const locked = await store.lockAutomation(trx, workspaceId, id);
      if (!locked) throw new ApiError('NOT_FOUND', `Automation ${id} not found`);
      if (locked.status === 'archived') throw new ApiError('CONFLICT', `Automation ${id} is archived: an archived automation cannot be changed`);
      // another change landed while this one was checked: its version is the one to build on
      if (locked.version !== current.version) throw new ApiError('CONFLICT', `Automation ${id} was changed by another request: read it again and retry`);
      const saved = await store.updateAutomation(trx, locked, {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(triggerChanged ? { trigger: { type: trigger.type, config: trigger.config } } : {}),
        ...(graphChanged || triggerChanged ? { graph } : {}),
      });
      // a changed date_time trigger moves its job (date-trigger.ts)
      if (triggerChanged) await scheduleDateTrigger(trx, this.deps.signal, saved);
      return saved;
    });
    if (triggerChanged) this.deps.signal.wakeLocal(JOBS_TOPIC);
    return this.detail(row);
  }

  /** Moves an automation along the state machine; activating checks its graph again (a template may be gone since). */
  async transition(workspaceId: string, id: string, to: Exclude<AutomationStatus, 'draft'>): Promise<AutomationDetail> {
    const current = await this.row(workspaceId, id);
    if (to === 'active' && current.status !== 'active' && current.status !== 'archived') {
      await this.checked(workspaceId, { type: current.trigger_type, config: current.trigger_config } as Trigger, await store.findGraph(this.db, current.id, current.version));
    }
    const row = await inTransaction(this.db, async (trx) => {
      const locked = await store.lockAutomation(trx, workspaceId, id);
      if (!locked) throw new ApiError('NOT_FOUND', `Automation ${id} not found`);
      if (locked.status === to) return locked;
      if (!ALLOWED_FROM[to].includes(locked.status)) throw refusedTransition(locked, to);
      // archiving ends the running enrollments: they stop at their next step
      if (to === 'archived') await store.endActiveEnrollments(trx, locked.id, 'automation_archived');
      const saved = await store.setStatus(trx, locked.id, to);
      // a date_time trigger's job starts with the automation and stops with it (date-trigger.ts)
      await scheduleDateTrigger(trx, this.deps.signal, saved);
      // enrollments held while it was paused go on now, not at their next look (engine-store.ts)
      if (to === 'active') await wakeWaitingSteps(trx, saved.id);
      return saved;
    });
    this.deps.signal.wakeLocal(JOBS_TOPIC);
    return this.detail(row);
  }

  /**
   * Deletes the automation. Its running enrollments end (exit_reason automation_deleted) in the same transaction
   * that deletes them: the enrollments, their history and the versions go with the automation (ON DELETE
   * CASCADE); a step job still queued finds no enrollment and does nothing.
   */
  async delete(workspaceId: string, id: string): Promise<{ id: string; ended_enrollments: number }> {
    return inTransaction(this.db, async (trx) => {
      const locked = await store.lockAutomation(trx, workspaceId, id);
      if (!locked) throw new ApiError('NOT_FOUND', `Automation ${id} not found`);
      const ended = await store.endActiveEnrollments(trx, locked.id, 'automation_deleted');
      await store.deleteAutomationRow(trx, locked.id);
      return { id: locked.id, ended_enrollments: ended };
    });
  }

  async enrollments(workspaceId: string, id: string, q: { limit: number; cursor?: Cursor; status?: AutomationEnrollmentRow['status'] }) {
    const a = await this.row(workspaceId, id);
    const rows = await store.listEnrollments(this.db, a.id, q);
    const page = rows.slice(0, q.limit);
    const history = await store.stepRunsOf(
      this.db,
      page.map((e) => e.id),
    );
    const last = page.at(-1);
    const hasMore = rows.length > q.limit;
    const enrollments: EnrollmentDetail[] = page.map((e) => ({ ...e, history: history.get(e.id) ?? [] }));
    return { automation: a, enrollments, next_cursor: hasMore && last ? encodeCursor({ createdAt: last.enrolled_at, id: last.id }) : null, has_more: hasMore };
  }

  /** The contact with this address; the automations API never creates contacts (spec §6). */
  private async contactByEmail(workspaceId: string, email: string): Promise<ContactRow> {
    try {
      return await this.deps.contacts.find(workspaceId, { email });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NOT_FOUND') throw new ApiError('NOT_FOUND', `Contact ${email} not found in this workspace: add it first (POST /api/v1/public/contacts/add-contact)`);
      throw err;
    }
  }

  /**
   * Enrolls a contact by hand (spec §6: the contact must exist, the automation must be active). Enrolling a
   * contact that is running the automation already changes nothing and succeeds; a blocked contact is refused.
   */
  async enroll(workspaceId: string, id: string, email: string): Promise<EnrollOutcome> {
    const a = await this.row(workspaceId, id);
    const contact = await this.contactByEmail(workspaceId, email);
    if (a.status !== 'active') throw new ApiError('CONFLICT', `Automation ${a.id} is ${a.status}: only an active automation enrolls contacts (POST /api/v1/automations/${a.id}/activate)`);
    if (contact.status !== 'subscribed') throw new ApiError('CONFLICT', `Contact ${email} is ${contact.status}${contact.blocked_reason ? ` (${contact.blocked_reason})` : ''}: a blocked contact is not enrolled`);
    // enrolls only while the automation is active; one paused or archived meanwhile holds or ends it at its first step
    if (await this.enroller.submit({ workspaceId, automationId: a.id, contactId: contact.id })) return { enrolled: true, contact };
    // nobody enrolled: the contact is running it already, unless the automation stopped meanwhile
    const now = await store.findAutomation(this.db, workspaceId, a.id);
    if (now?.status !== 'active') throw new ApiError('CONFLICT', `Automation ${a.id} is ${now?.status ?? 'deleted'}: only an active automation enrolls contacts`);
    return { enrolled: false, contact, reason: 'already_enrolled' };
  }

  /** Takes a contact out of an automation: its running enrollment ends now, and the engine skips its next step. */
  async unenroll(workspaceId: string, id: string, email: string): Promise<{ contact: ContactRow; unenrolled: boolean }> {
    const a = await this.row(workspaceId, id);
    const contact = await this.contactByEmail(workspaceId, email);
    const unenrolled = await inTransaction(this.db, async (trx) => {
      const running = await store.lockActiveEnrollment(trx, a.id, contact.id);
      if (!running) return false;
      await store.exitEnrollment(trx, running.id, 'unenrolled');
      return true;
    });
    return { contact, unenrolled };
  }

  /**
   * events/track: records the event and enrolls the contact in every active contact_event automation whose
   * event_name matches, with the properties as `event` for its templates. Returns the event's id and how many
   * automations it started.
   */
  async track(workspaceId: string, input: { email: string; eventName: string; properties: Record<string, unknown> }): Promise<{ event_id: string; enrolled: number; created_at: Date }> {
    const contact = await this.contactByEmail(workspaceId, input.email);
    const eventId = uuidv7();
    const result = await inTransaction(this.db, async (trx) => {
      const createdAt = await store.insertEvent(trx, { id: eventId, workspaceId, contactId: contact.id, eventName: input.eventName, properties: input.properties });
      let enrolled = 0;
      // one automation at a time, each two statements (enrollments.ts); one event starts at most 100 (store)
      for (const automationId of await store.automationsForEvent(trx, workspaceId, input.eventName)) {
        const started = await enrollContacts(trx, this.deps.signal, { workspaceId, automationId, contactIds: [contact.id], triggerData: { event: input.properties } });
        enrolled += started.length;
      }
      if (enrolled > 0) await store.setEventEnrolled(trx, eventId, enrolled);
      return { enrolled, createdAt };
    });
    if (result.enrolled > 0) this.deps.signal.wakeLocal(JOBS_TOPIC);
    return { event_id: eventId, enrolled: result.enrolled, created_at: result.createdAt };
  }
}

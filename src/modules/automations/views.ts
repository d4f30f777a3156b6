import type { AutomationStepRunRow } from '../../platform/db/schema.js';
import type { AutomationDetail, EnrollmentDetail } from './service.js';

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => d?.toISOString() ?? null;

/** get-automation's shape (spec §6), plus the fields of ours: description, version, running enrollments. */
export function automationItemView(a: AutomationDetail) {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    status: a.status,
    trigger_type: a.trigger_type,
    trigger_config: a.trigger_config,
    enrolled_count: a.enrolled_count,
    completed_count: a.completed_count,
    active_count: a.active_count,
    version: a.version,
    created_at: iso(a.created_at),
    updated_at: iso(a.updated_at),
  };
}

/** The extension's answer: the item with its trigger as the API takes it and the steps new enrollments run. */
export function automationDetailView(a: AutomationDetail) {
  return { ...automationItemView(a), trigger: { type: a.trigger_type, config: a.trigger_config }, steps: a.graph.steps };
}

const stepRunView = (r: AutomationStepRunRow) => ({
  seq: r.seq,
  step_id: r.step_id,
  step_type: r.step_type,
  outcome: r.outcome,
  due_at: iso(new Date(r.due_at)),
  ran_at: iso(new Date(r.ran_at)),
  message_id: r.message_id,
  detail: r.detail,
});

export function enrollmentView(e: EnrollmentDetail) {
  return {
    id: e.id,
    contact_id: e.contact_id,
    email: e.email,
    status: e.status,
    exit_reason: e.exit_reason,
    current_step: e.current_step,
    next_run_at: isoOrNull(e.next_run_at),
    version: e.version,
    enrolled_at: iso(e.enrolled_at),
    ended_at: isoOrNull(e.ended_at),
    history: e.history.map(stepRunView),
  };
}

/** Both pagination styles of spec §5, as get-all answers them: flat (`page`, `limit`, `total`, `totalPages`) and `meta`. */
export function pageView(page: number, limit: number, total: number) {
  return { page, limit, total, totalPages: Math.ceil(total / limit), meta: { total, page, limit, has_more: page * limit < total } };
}

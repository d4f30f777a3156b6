import { PLANS, type Plan } from '../../config/config.js';
import { inTransaction, type Db, type Tx } from '../../platform/db/database.js';
import type { Logger } from '../../platform/logger.js';
import { LruMap } from '../../platform/lru-map.js';
import type { ClaimedJob } from '../../platform/queue/jobs-store.js';
import type { ContactService } from '../contacts/index.js';
import type { PlanService } from '../plans/index.js';
import type { PreparedEmail, SendingService } from '../sending/index.js';
import { templateVariables } from './contact-context.js';
import {
  advanceEnrollments,
  finishStepJobs,
  insertStepRuns,
  loadEnrollments,
  loadGraphs,
  loadWorkspaces,
  reloadContact,
  STEP_JOB_ATTEMPTS,
  suppressedIndexes,
  type Advance,
  type EngineContact,
  type EnrollmentState,
  type JobEnd,
  type StepRunRow,
} from './engine-store.js';
import { graph as graphSchema, type Graph, type SendEmailStep, type Step } from './graph.js';
import { contactChange } from './steps/action.js';
import { evaluateCondition } from './steps/condition.js';
import { delayDueAt } from './steps/delay.js';

export interface StepRunnerDeps {
  db: Db;
  sending: SendingService;
  contacts: ContactService;
  plans: PlanService;
  /** null when the workspace may send from this address now, else why not (custom domains; capture mode allows any) */
  checkSender: (workspaceId: string, from: string) => Promise<string | null>;
  log: Logger;
  /** the first retry of a failing step waits about this long, then twice as long each time */
  retryBaseMs: number;
  /** how long the step of a paused automation's enrollment waits before it looks again (activation wakes it sooner) */
  pausedRecheckMs?: number;
}

/**
 * Steps that need no email run on in the same transaction as the step before them when they are already due: an
 * enrollment crosses a condition or an action without another job. Bounded, so a long graph still yields.
 */
const MAX_STEPS_PER_JOB = 10;
const PAUSED_RECHECK_MS = 60_000;

interface StepJob {
  job: ClaimedJob;
  enrollmentId: string;
  seq: number;
}

/** A send_email step prepared before the transaction: its email, or why it could not be. */
type PreparedSend = { seq: number; stepId: string; email: PreparedEmail; workspaceId: string } | { seq: number; stepId: string; error: string };

/** What one job's run decided, written with the others of its batch. */
interface JobOutcome {
  runs: StepRunRow[];
  advance: Advance | null;
  end: JobEnd;
  email: PreparedEmail | null;
}

class StepFailure extends Error {}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 500);

/**
 * Runs claimed `automation.step` jobs (README, "The automation engine"). A batch runs in ONE transaction: it
 * locks the batch's enrollments, runs each job whose enrollment is still active at the job's seq, writes the
 * step runs, the emails, the enrollments' new position and their next jobs, and marks the claimed jobs done
 * fenced by (locked_by, attempts). A job that comes back after a crash finds the seq moved on and does nothing,
 * so each step of an enrollment runs exactly once however many workers there are. Emails are rendered before
 * the transaction, to keep it short.
 */
export class StepRunner {
  /** versions never change once stored */
  private readonly graphs = new LruMap<string, Map<string, Step> | null>(1000);

  constructor(private readonly deps: StepRunnerDeps) {}

  async runBatch(workerId: string, claimed: readonly ClaimedJob[]): Promise<void> {
    const jobs: StepJob[] = [];
    const malformed: ClaimedJob[] = [];
    for (const job of claimed) {
      const { enrollmentId, seq } = job.payload;
      if (typeof enrollmentId === 'string' && typeof seq === 'number') jobs.push({ job, enrollmentId, seq });
      else malformed.push(job);
    }
    if (malformed.length > 0) {
      this.deps.log.warn({ jobs: malformed.map((j) => j.id) }, 'automation step jobs without an enrollment and seq; dropped');
      await finishStepJobs(this.deps.db, workerId, malformed.map((j) => ({ id: j.id, attempts: j.attempts, end: { kind: 'done' as const } })));
    }
    if (jobs.length === 0) return;
    const snapshot = await loadEnrollments(this.deps.db, jobs.map((j) => j.enrollmentId), false);
    await this.loadGraphs([...snapshot.values()]);
    const { prepared, reservations } = await this.prepareSends(jobs, snapshot);
    const sent = new Map<string, number>();
    try {
      await this.commit(workerId, jobs, prepared, sent);
    } finally {
      // quota reserved for emails that were not written (a contact that left, a suppressed address) goes back
      for (const [workspaceId, r] of reservations) {
        const unused = r.count - (sent.get(workspaceId) ?? 0);
        if (unused > 0) await r.release(unused).catch((err: unknown) => this.deps.log.warn({ err, workspaceId }, 'could not give back unused automation quota'));
      }
    }
  }

  /** The batch in one transaction; when it fails as a whole, each job in its own, so one bad job holds no other back. */
  private async commit(workerId: string, jobs: StepJob[], prepared: Map<string, PreparedSend>, sent: Map<string, number>): Promise<void> {
    try {
      const emails = await inTransaction(this.deps.db, (trx) => this.runInTransaction(trx, workerId, jobs, prepared));
      this.accepted(emails, sent);
      return;
    } catch (err) {
      if (jobs.length === 1) {
        await this.recordFailure(workerId, jobs[0]!, errorText(err));
        return;
      }
      this.deps.log.warn({ err, jobs: jobs.length }, 'an automation step batch failed; running its jobs one by one');
    }
    for (const job of jobs) await this.commit(workerId, [job], prepared, sent);
  }

  private accepted(emails: PreparedEmail[], sent: Map<string, number>): void {
    this.deps.sending.accepted(emails);
    for (const e of emails) sent.set(e.message.workspace_id, (sent.get(e.message.workspace_id) ?? 0) + 1);
  }

  private async runInTransaction(trx: Tx, workerId: string, jobs: StepJob[], prepared: Map<string, PreparedSend>): Promise<PreparedEmail[]> {
    const states = await loadEnrollments(trx, jobs.map((j) => j.enrollmentId), true);
    // one look at the suppression list for every send of the batch
    const sends: { jobId: string; workspaceId: string; email: string; bulk: boolean }[] = [];
    for (const j of jobs) {
      const p = prepared.get(j.job.id);
      const state = states.get(j.enrollmentId);
      // a send that could not be prepared is looked up too (as bulk, the wider list): suppressed wins over failed
      if (p && state?.contact) sends.push({ jobId: j.job.id, workspaceId: state.workspace_id, email: state.contact.email, bulk: 'email' in p ? p.email.message.tier === 'bulk' : true });
    }
    const suppressed = new Set([...(await suppressedIndexes(trx, sends))].map((i) => sends[i]!.jobId));
    const outcomes: { job: StepJob; outcome: JobOutcome }[] = [];
    for (const j of jobs) {
      const outcome = await this.runJob(trx, j, states.get(j.enrollmentId), prepared.get(j.job.id), suppressed.has(j.job.id));
      outcomes.push({ job: j, outcome });
    }
    const emails = outcomes.flatMap((o) => (o.outcome.email ? [o.outcome.email] : []));
    await this.deps.sending.insertPrepared(trx, emails);
    await insertStepRuns(trx, outcomes.flatMap((o) => o.outcome.runs));
    await advanceEnrollments(trx, outcomes.flatMap((o) => (o.outcome.advance ? [o.outcome.advance] : [])));
    await finishStepJobs(trx, workerId, outcomes.map((o) => ({ id: o.job.job.id, attempts: o.job.job.attempts, end: o.outcome.end })));
    return emails;
  }

  /** One job: nothing when its step already ran; else its step, and the steps after it that are due and send nothing. */
  private async runJob(trx: Tx, j: StepJob, state: EnrollmentState | undefined, prepared: PreparedSend | undefined, suppressed: boolean): Promise<JobOutcome> {
    const done: JobEnd = { kind: 'done' };
    // unenrolled, ended, or this step ran already (a job back after a crash, or a second worker)
    if (!state || state.status !== 'active' || state.seq !== j.seq || state.current_step === null) return { runs: [], advance: null, end: done, email: null };
    const ended = (reason: string): JobOutcome => ({ runs: [], advance: exitAt(state, state.seq, reason), end: done, email: null });
    if (state.automation_status === 'archived') return ended('automation_archived');
    if (state.automation_status !== 'active') {
      // paused (or back to draft): the enrollment waits at this step; activation wakes it (wakeWaitingSteps)
      return { runs: [], advance: null, end: { kind: 'wait', at: new Date(Date.now() + (this.deps.pausedRecheckMs ?? PAUSED_RECHECK_MS)) }, email: null };
    }
    if (!state.contact) return ended('contact_deleted');
    if (state.contact.status === 'blocked') return ended('contact_blocked');

    const steps = this.graphs.get(graphKey(state));
    const runs: StepRunRow[] = [];
    let email: PreparedEmail | null = null;
    let contact: EngineContact = state.contact;
    let seq = state.seq;
    let stepId: string = state.current_step;
    let dueAt = state.next_run_at ?? new Date();
    const now = new Date();
    for (let ran = 0; ; ran++) {
      const step = steps?.get(stepId);
      let result: { outcome: string; next: string | null | undefined; nextAt: Date; messageId?: string; detail?: Record<string, unknown>; exit?: true };
      try {
        if (!step) throw new StepFailure(steps ? `step ${stepId} is not in version ${state.version} of the automation` : `version ${state.version} of the automation has no readable graph`);
        result = await this.runStep(trx, { state, contact, step, dueAt, seq, prepared, suppressed });
      } catch (err) {
        if (!(err instanceof StepFailure)) throw err;
        return this.failed(j, state, { runs, seq, stepId, dueAt, error: err.message, email });
      }
      if (step.type === 'send_email' && result.messageId) email = (prepared as { email: PreparedEmail }).email;
      if (step.type === 'action') contact = (await reloadContact(trx, state.workspace_id, state.contact_id)) ?? contact;
      runs.push({ enrollmentId: state.id, seq, stepId, stepType: step.type, dueAt, outcome: result.outcome, messageId: result.messageId ?? null, detail: result.detail ?? {} });
      seq++;
      if (result.exit) return { runs, advance: exitAt(state, seq, 'exit_step'), end: done, email };
      if (!result.next) return { runs, advance: completedAt(state, seq), end: done, email };
      const nextStep = steps?.get(result.next);
      const goOn = ran + 1 < MAX_STEPS_PER_JOB && result.nextAt <= now && nextStep !== undefined && nextStep.type !== 'send_email';
      if (!goOn) return { runs, advance: activeAt(state, seq, result.next, result.nextAt), end: done, email };
      stepId = result.next;
      dueAt = result.nextAt;
    }
  }

  private async runStep(
    trx: Tx,
    o: { state: EnrollmentState; contact: EngineContact; step: Step; dueAt: Date; seq: number; prepared: PreparedSend | undefined; suppressed: boolean },
  ): Promise<{ outcome: string; next: string | null | undefined; nextAt: Date; messageId?: string; detail?: Record<string, unknown>; exit?: true }> {
    const { step, dueAt } = o;
    switch (step.type) {
      case 'send_email': {
        if (o.suppressed) return { outcome: 'suppressed', next: step.next, nextAt: dueAt, detail: { email: o.contact.email } };
        const p = o.prepared;
        if (!p || p.seq !== o.seq || p.stepId !== step.id) throw new StepFailure('the email was not prepared');
        if ('error' in p) throw new StepFailure(p.error);
        return { outcome: 'sent', next: step.next, nextAt: dueAt, messageId: p.email.message.id };
      }
      case 'delay': {
        const at = delayDueAt(step, dueAt);
        return { outcome: 'waited', next: step.next, nextAt: at, detail: { until: at.toISOString() } };
      }
      case 'condition': {
        const value = await evaluateCondition(trx, { enrollmentId: o.state.id, contact: o.contact, test: step.condition });
        return { outcome: value ? 'true' : 'false', next: value ? step.on_true : step.on_false, nextAt: dueAt };
      }
      case 'action': {
        if (step.action.kind === 'update_field' && step.action.field === 'email') throw new StepFailure("an action does not change a contact's email address");
        const result = await this.deps.contacts.applyStepChange(trx, o.state.workspace_id, o.state.contact_id, contactChange(step.action), `automation ${o.state.automation_id}`);
        if (result === 'missing') throw new StepFailure(`audience ${'audience_id' in step.action ? step.action.audience_id : ''} not found in this workspace`);
        return { outcome: 'done', next: step.next, nextAt: dueAt, detail: { changed: result === 'changed' } };
      }
      case 'exit':
        return { outcome: 'exited', next: null, nextAt: dueAt, exit: true };
    }
  }

  /**
   * A step that could not run. The steps before it in this job are kept (they ran); it is tried again with backoff,
   * and after STEP_JOB_ATTEMPTS attempts the enrollment ends with `step_failed` and the reason on its step run.
   */
  private failed(j: StepJob, state: EnrollmentState, o: { runs: StepRunRow[]; seq: number; stepId: string; dueAt: Date; error: string; email: PreparedEmail | null }): JobOutcome {
    const done: JobEnd = { kind: 'done' };
    const retryAt = new Date(Date.now() + this.backoffMs(o.runs.length > 0 ? 1 : j.job.attempts));
    // later in the job's chain: what ran is recorded, and the failing step gets a job (and attempts) of its own
    if (o.runs.length > 0) return { runs: o.runs, advance: activeAt(state, o.seq, o.stepId, retryAt), end: done, email: o.email };
    if (j.job.attempts < Math.min(j.job.max_attempts, STEP_JOB_ATTEMPTS)) return { runs: [], advance: null, end: { kind: 'retry', at: retryAt, error: o.error }, email: null };
    this.deps.log.warn({ enrollmentId: state.id, automationId: state.automation_id, step: o.stepId, error: o.error }, 'automation step failed; the enrollment ends');
    const step = this.graphs.get(graphKey(state))?.get(o.stepId);
    return {
      runs: [{ enrollmentId: state.id, seq: o.seq, stepId: o.stepId, stepType: step?.type ?? 'unknown', dueAt: o.dueAt, outcome: 'failed', messageId: null, detail: { error: o.error, attempts: j.job.attempts } }],
      advance: exitAt(state, o.seq + 1, 'step_failed'),
      end: done,
      email: null,
    };
  }

  /**
   * The job's transaction failed even on its own (the database is away, or a step the engine cannot write): it is
   * retried with backoff, and on its last attempt its enrollment ends with `step_failed`, so it never loops forever.
   */
  private async recordFailure(workerId: string, j: StepJob, error: string): Promise<void> {
    this.deps.log.warn({ jobId: j.job.id, enrollmentId: j.enrollmentId, error }, 'automation step job failed');
    try {
      if (j.job.attempts >= Math.min(j.job.max_attempts, STEP_JOB_ATTEMPTS)) {
        await inTransaction(this.deps.db, async (trx) => {
          const state = (await loadEnrollments(trx, [j.enrollmentId], true)).get(j.enrollmentId);
          if (state && state.status === 'active' && state.seq === j.seq) {
            const step = state.current_step ?? 'unknown';
            const type = this.graphs.get(graphKey(state))?.get(step)?.type ?? 'unknown';
            const detail = { error, attempts: j.job.attempts };
            await insertStepRuns(trx, [{ enrollmentId: state.id, seq: state.seq, stepId: step, stepType: type, dueAt: state.next_run_at ?? new Date(), outcome: 'failed', messageId: null, detail }]);
            await advanceEnrollments(trx, [exitAt(state, state.seq + 1, 'step_failed')]);
          }
          await finishStepJobs(trx, workerId, [{ id: j.job.id, attempts: j.job.attempts, end: { kind: 'done' } }]);
        });
        return;
      }
      await finishStepJobs(this.deps.db, workerId, [{ id: j.job.id, attempts: j.job.attempts, end: { kind: 'retry', at: new Date(Date.now() + this.backoffMs(j.job.attempts)), error } }]);
    } catch (err) {
      this.deps.log.error({ err, jobId: j.job.id }, 'could not record the automation step job result; its lease will bring it back');
    }
  }

  private backoffMs(attempt: number): number {
    const ceiling = this.deps.retryBaseMs * 2 ** Math.max(0, attempt - 1);
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private async loadGraphs(states: EnrollmentState[]): Promise<void> {
    const missing = new Map<string, { automationId: string; version: number }>();
    for (const s of states) if (this.graphs.get(graphKey(s)) === undefined) missing.set(graphKey(s), { automationId: s.automation_id, version: s.version });
    if (missing.size === 0) return;
    for (const row of await loadGraphs(this.deps.db, [...missing.values()])) {
      const parsed = graphSchema.safeParse(row.graph);
      if (!parsed.success) this.deps.log.warn({ automationId: row.automation_id, version: row.version }, 'a stored automation graph does not parse');
      this.graphs.set(`${row.automation_id}:${row.version}`, parsed.success ? byId(parsed.data) : null);
    }
  }

  /**
   * Renders the emails of the batch's send_email steps before its transaction, and counts them against their
   * workspaces' plans (an email the transaction does not write is given back).
   */
  private async prepareSends(jobs: StepJob[], snapshot: Map<string, EnrollmentState>) {
    const prepared = new Map<string, PreparedSend>();
    const wanted: { job: StepJob; state: EnrollmentState; contact: EngineContact; step: SendEmailStep }[] = [];
    for (const j of jobs) {
      const state = snapshot.get(j.enrollmentId);
      if (!state || state.status !== 'active' || state.seq !== j.seq || state.automation_status !== 'active' || state.contact?.status !== 'subscribed') continue;
      const step = state.current_step === null ? undefined : this.graphs.get(graphKey(state))?.get(state.current_step);
      if (step?.type === 'send_email') wanted.push({ job: j, state, contact: state.contact, step });
    }
    if (wanted.length === 0) return { prepared, reservations: new Map<string, { count: number; release: (n: number) => Promise<void> }>() };
    const workspaces = await loadWorkspaces(this.deps.db, [...new Set(wanted.map((w) => w.state.workspace_id))]);
    const senders = new Map<string, Promise<string | null>>();
    const checked = await Promise.all(
      wanted.map(async (w) => {
        const key = `${w.state.workspace_id}:${w.step.from}`;
        if (!senders.has(key)) senders.set(key, this.deps.checkSender(w.state.workspace_id, w.step.from).catch((err: unknown) => errorText(err)));
        return { ...w, refused: await senders.get(key)! };
      }),
    );
    const allowed = checked.filter((w) => w.refused === null);
    for (const w of checked) if (w.refused !== null) prepared.set(w.job.job.id, { seq: w.state.seq, stepId: w.step.id, error: w.refused });
    const emails = await this.deps.sending.prepareAutomationEmails(
      allowed.map(({ state, contact, step }) => {
        const ws = workspaces.get(state.workspace_id);
        const name = fullName(contact);
        return {
          workspaceId: state.workspace_id,
          tier: step.tier,
          to: { email: contact.email, ...(name ? { name } : {}) },
          from: { email: step.from, ...(step.from_name ? { name: step.from_name } : {}) },
          templateId: step.template_id,
          ...(step.subject ? { subject: step.subject } : {}),
          params: templateVariables(contact, state.trigger_data),
          tracking: { opens: ws?.track_opens_default ?? false, clicks: ws?.track_clicks_default ?? false },
          tags: ['automation'],
          metadata: { automation_id: state.automation_id, enrollment_id: state.id, step_id: step.id },
        };
      }),
    );
    for (const [i, w] of allowed.entries()) {
      const r = emails[i]!;
      const key = { seq: w.state.seq, stepId: w.step.id };
      prepared.set(w.job.job.id, 'email' in r ? { ...key, email: r.email, workspaceId: w.state.workspace_id } : { ...key, error: errorText(r.error) });
    }
    const reservations = new Map<string, { count: number; release: (n: number) => Promise<void> }>();
    const byWorkspace = new Map<string, string[]>();
    for (const [jobId, p] of prepared) {
      if (!('email' in p)) continue;
      const ids = byWorkspace.get(p.workspaceId);
      if (ids) ids.push(jobId);
      else byWorkspace.set(p.workspaceId, [jobId]);
    }
    for (const [workspaceId, jobIds] of byWorkspace) {
      const plan = workspaces.get(workspaceId)?.plan;
      if (!plan || !(PLANS as readonly string[]).includes(plan)) continue;
      try {
        const r = await this.deps.plans.reserve(workspaceId, plan as Plan, jobIds.length);
        reservations.set(workspaceId, { count: jobIds.length, release: (n) => r.release(n) });
      } catch {
        // not room for all of them: one at a time, so the quota's last emails still go; those past it fail (and are
        // retried, then end their enrollments). A quota-free plan never gets here.
        const held: { release: (n?: number) => Promise<void> }[] = [];
        for (const id of jobIds) {
          try {
            held.push(await this.deps.plans.reserve(workspaceId, plan as Plan, 1));
          } catch (err) {
            const p = prepared.get(id)!;
            prepared.set(id, { seq: p.seq, stepId: p.stepId, error: errorText(err) });
          }
        }
        // the sends that got room are counted first in the batch: those past it were marked failed above
        if (held.length > 0) reservations.set(workspaceId, { count: held.length, release: async (n) => void (await Promise.all(held.slice(0, n).map((h) => h.release()))) });
      }
    }
    return { prepared, reservations };
  }
}

const graphKey = (s: { automation_id: string; version: number }): string => `${s.automation_id}:${s.version}`;

function byId(g: Graph): Map<string, Step> {
  return new Map(g.steps.map((s) => [s.id, s]));
}

function fullName(c: EngineContact): string | null {
  const name = [c.first_name, c.last_name].filter((p) => p && p.trim() !== '').join(' ');
  return name === '' ? null : name;
}

function exitAt(state: EnrollmentState, seq: number, reason: string): Advance {
  return { enrollmentId: state.id, seq, status: 'exited', exitReason: reason, currentStep: null, nextRunAt: null };
}

function completedAt(state: EnrollmentState, seq: number): Advance {
  return { enrollmentId: state.id, seq, status: 'completed', exitReason: null, currentStep: null, nextRunAt: null };
}

function activeAt(state: EnrollmentState, seq: number, stepId: string, at: Date): Advance {
  return { enrollmentId: state.id, seq, status: 'active', exitReason: null, currentStep: stepId, nextRunAt: at };
}

import { PLANS, type Config, type Plan } from '../../config/config.js';
import type { Db } from '../../platform/db/database.js';
import { ApiError } from '../../platform/http/errors.js';
import * as store from './store.js';

/** Quotas count recipients per calendar month (UTC): an email to three people uses three. */
export function periodOf(now: Date): { period: string; start: Date; end: Date } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { period: start.toISOString().slice(0, 7), start, end };
}

/** What an operator types to move a workspace to another plan (README, Rate limits and plans). */
export const setPlanCommand = (workspaceId: string, plan: Plan): string => `keplars-server workspace set-plan --workspace ${workspaceId} --plan ${plan}`;

export interface Reservation {
  /**
   * Gives the emails back, e.g. when the write that follows fails or a scheduled email is cancelled; `count` gives
   * back only that many of them (an automation batch that sent fewer than it reserved).
   */
  release(count?: number): Promise<void>;
}

const NOTHING: Reservation = { release: async () => undefined };

export class PlanService {
  constructor(
    private readonly db: Db,
    private readonly plans: Config['plans'],
  ) {}

  /** Scheduling is the one feature gated by default (decisions §7). */
  requireScheduling(key: { workspaceId: string; plan: Plan }): void {
    if (key.plan === 'FREE') {
      throw new ApiError(
        'PLAN_REQUIRED',
        `Scheduled sending requires the LAUNCH plan or higher; this workspace is on FREE. An operator changes its plan with: ${setPlanCommand(key.workspaceId, 'LAUNCH')}`,
      );
    }
  }

  /** The next plan with a larger quota, or the setting that raises this one. */
  private moreEmails(workspaceId: string, plan: Plan, quota: number): string {
    const bigger = PLANS.slice(PLANS.indexOf(plan) + 1).find((p) => (this.plans[p].monthlyEmails ?? Infinity) > quota);
    return bigger ? `An operator moves the workspace to a larger plan with: ${setPlanCommand(workspaceId, bigger)}` : `An operator raises it with the PLAN_${plan}_MONTHLY_EMAILS setting`;
  }

  async reserve(workspaceId: string, plan: Plan, recipients: number, now = new Date()): Promise<Reservation> {
    const quota = this.plans[plan].monthlyEmails;
    if (quota === null) return NOTHING;
    const { period, end } = periodOf(now);
    if (!(await store.tryConsume(this.db, workspaceId, period, recipients, quota))) {
      const retryAfter = Math.max(1, Math.ceil((end.getTime() - now.getTime()) / 1000));
      throw new ApiError('RATE_LIMITED', `Monthly email quota of ${quota} for the ${plan} plan reached; it resets at ${end.toISOString()}. ${this.moreEmails(workspaceId, plan, quota)}`, {
        headers: { 'Retry-After': String(retryAfter) },
      });
    }
    return { release: (count = recipients) => store.giveBack(this.db, workspaceId, period, Math.min(count, recipients)) };
  }

  /** Returns a cancelled email's recipients to the month it was counted in (if that month still runs). */
  async refund(workspaceId: string, acceptedAt: Date, recipients: number, now = new Date()): Promise<void> {
    const then = periodOf(acceptedAt).period;
    if (then === periodOf(now).period) await store.giveBack(this.db, workspaceId, then, recipients);
  }

  async usage(workspaceId: string, plan: Plan, now = new Date()) {
    const { period, start, end } = periodOf(now);
    const quota = this.plans[plan].monthlyEmails;
    const accepted = await store.acceptedSince(this.db, workspaceId, start);
    const counted = quota === null ? accepted.recipients : await store.counted(this.db, workspaceId, period);
    return {
      plan,
      period,
      resets_at: end.toISOString(),
      monthly_quota: quota,
      used: counted,
      remaining: quota === null ? null : Math.max(0, quota - counted),
      emails_accepted: accepted.emails,
      requests_per_second: this.plans[plan].requestsPerSecond,
    };
  }
}

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.js';
import type { Db } from '../../platform/db/database.js';
import { ApiError } from '../../platform/http/errors.js';
import { PlanService } from './service.js';

const WS = '01a23033-2766-739f-91c8-818e952285f3';

/** A refusal's code, status and message (reserve refuses more recipients than the whole quota without a query). */
async function refusal(work: () => unknown): Promise<{ code: string; status: number; message: string }> {
  try {
    await work();
  } catch (err) {
    if (err instanceof ApiError) return { code: err.code, status: err.status, message: err.message };
    throw err;
  }
  throw new Error('not refused');
}

describe('plan refusals name the command that changes the plan', () => {
  const plans = loadConfig({ PLAN_LAUNCH_MONTHLY_EMAILS: '5', PLAN_ENTERPRISE_MONTHLY_EMAILS: '7', PLAN_CUSTOM_MONTHLY_EMAILS: '6' }).plans;
  const service = new PlanService(null as unknown as Db, plans);

  it('scheduling on FREE: PLAN_REQUIRED, 403, with the workspace id and LAUNCH', async () => {
    expect(await refusal(() => service.requireScheduling({ workspaceId: WS, plan: 'FREE' }))).toEqual({
      code: 'PLAN_REQUIRED',
      status: 403,
      message: `Scheduled sending requires the LAUNCH plan or higher; this workspace is on FREE. An operator changes its plan with: keplars-server workspace set-plan --workspace ${WS} --plan LAUNCH`,
    });
    expect(() => service.requireScheduling({ workspaceId: WS, plan: 'LAUNCH' })).not.toThrow();
  });

  it('a quota names the next plan with more emails, or the setting when no plan has more', async () => {
    const launch = await refusal(() => service.reserve(WS, 'LAUNCH', 6));
    expect(launch).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    expect(launch.message).toMatch(/^Monthly email quota of 5 for the LAUNCH plan reached; it resets at \S+\. /);
    expect(launch.message).toContain(`An operator moves the workspace to a larger plan with: keplars-server workspace set-plan --workspace ${WS} --plan CUSTOM`);
    // CUSTOM (6) → ENTERPRISE (7); ENTERPRISE is the largest
    expect((await refusal(() => service.reserve(WS, 'CUSTOM', 7))).message).toContain('--plan ENTERPRISE');
    expect((await refusal(() => service.reserve(WS, 'ENTERPRISE', 8))).message).toContain('An operator raises it with the PLAN_ENTERPRISE_MONTHLY_EMAILS setting');
  });
});

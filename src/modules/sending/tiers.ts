import type { Tier } from '../../platform/lifecycle.js';

export interface TierPolicy {
  priority: number;
  /** retries after the first attempt (spec §2: instant 5, the others 3) */
  retries: number;
  estimatedDelivery: string;
  /** first retry delay as a multiple of RETRY_BASE_MS; doubles each retry */
  backoffFactor: number;
}

export const TIER_POLICIES: Record<Tier, TierPolicy> = {
  instant: { priority: 0, retries: 5, estimatedDelivery: '0-5 seconds', backoffFactor: 1 },
  high: { priority: 1, retries: 3, estimatedDelivery: '0-30 seconds', backoffFactor: 5 },
  async: { priority: 2, retries: 3, estimatedDelivery: '0-5 minutes', backoffFactor: 30 },
  bulk: { priority: 3, retries: 3, estimatedDelivery: 'background (when the queue is idle)', backoffFactor: 60 },
};

/** Exponential backoff with full jitter over the upper half, so retries of a burst spread out. */
export function retryDelayMs(tier: Tier, attempt: number, baseMs: number, random = Math.random): number {
  const ceiling = baseMs * TIER_POLICIES[tier].backoffFactor * 2 ** Math.max(0, attempt - 1);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

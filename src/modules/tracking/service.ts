import type { Config } from '../../config/config.js';
import type { Db } from '../../platform/db/database.js';
import { ApiError } from '../../platform/http/errors.js';
import { escapeHtml } from '../../platform/html-escape.js';
import type { TokenSigner } from '../../platform/tokens.js';
import type { ContentPool } from '../../platform/workers/content-pool.js';
import { isBotUserAgent, USER_AGENT_CHARS } from './bots.js';
import { applyTracking, MAX_TRACKED_LINKS, scanForTracking, type TrackingPlan } from './scan.js';
import * as store from './store.js';
import type { TrackingScanTask } from './thread.js';

/** Token purposes: an open token cannot be replayed as a click token, nor as a view or unsubscribe one. */
const OPEN = 'track-open';
const CLICK = 'track-click';

/**
 * Up to this much HTML is scanned on the event loop. Measured on a 2-core VM, the scan costs 10 to 35 ms per MB
 * (a megabyte of `<a`, 100,000 nested elements, 5,000 links with their URLs parsed), so 64 KB stays within about
 * 2 ms; larger HTML goes to a content thread, which costs one round trip and a copy, and the event loop that
 * serves every tenant stays free.
 */
export const THREAD_SCAN_CHARS = 64 * 1024;
/** Far above a linear scan of the largest HTML a send may carry (40 MB). */
const SCAN_TIMEOUT_MS = 10_000;

export interface TrackingChoice {
  opens: boolean;
  clicks: boolean;
}

export interface TrackedHtml {
  html: string;
  /** the original URL of each rewritten link, by link index */
  links: string[];
}

export interface TrackingRequest {
  method: string;
  userAgent: string | undefined;
}

/**
 * Open and click tracking (README, "Tracking"; decisions §10): rewrites an email's HTML when it is accepted, so
 * the HTML stored, DKIM-signed and delivered is the tracked one, and records what the pixel and the links hear.
 */
export class TrackingService {
  constructor(private readonly deps: { db: Db; tokens: TokenSigner; pool: ContentPool; config: Pick<Config, 'publicUrl'> }) {}

  /** PUBLIC_URL is read at each use: a server on PORT=0 learns its own only when it listens. */
  private get publicUrl(): string {
    return this.deps.config.publicUrl;
  }

  openUrl(emailId: string): string {
    return `${this.publicUrl}/t/o/${this.deps.tokens.sign(OPEN, emailId)}`;
  }

  clickUrl(emailId: string, index: number): string {
    return `${this.publicUrl}/t/c/${this.deps.tokens.sign(CLICK, `${emailId}/${index}`)}`;
  }

  /** The email's HTML with its links rewritten and the pixel added, as `choice` says. */
  async apply(emailId: string, html: string, choice: TrackingChoice): Promise<TrackedHtml> {
    if (!choice.opens && !choice.clicks) return { html, links: [] };
    const options = { publicUrl: this.publicUrl, opens: choice.opens, clicks: choice.clicks };
    const plan = html.length <= THREAD_SCAN_CHARS ? scanForTracking(html, options) : await this.scanOnThread({ kind: 'tracking.scan', html, ...options });
    const pixel = `<img src="${escapeHtml(this.openUrl(emailId))}" width="1" height="1" alt="" style="display:none;width:1px;height:1px;border:0">`;
    const rewritten = applyTracking(html, plan, (index) => escapeHtml(this.clickUrl(emailId, index)), pixel);
    return { html: rewritten, links: plan.links.map((l) => l[2]) };
  }

  private async scanOnThread(task: TrackingScanTask): Promise<TrackingPlan> {
    try {
      const plan = (await this.deps.pool.run(task, { timeoutMs: SCAN_TIMEOUT_MS })) as TrackingPlan;
      if (plan.links.length > MAX_TRACKED_LINKS) throw new Error('the scan found more links than it may');
      return plan;
    } catch {
      // the email is not accepted half-tracked: the client retries (as when templates cannot render)
      throw new ApiError('SERVICE_UNAVAILABLE', 'The server is busy preparing other emails; retry in a moment', { headers: { 'Retry-After': '1' } });
    }
  }

  /** The pixel was fetched: counted (and recorded) when the token is valid; an invalid one is ignored. */
  async open(token: string, request: TrackingRequest): Promise<void> {
    const emailId = this.deps.tokens.verify(OPEN, token);
    if (emailId === null) return;
    await store.recordOpen(this.deps.db, emailId, visit(request));
  }

  /** A link was followed: the URL signed into it (stored with the email), or null for a link that is not valid. */
  async click(token: string, request: TrackingRequest): Promise<string | null> {
    const value = this.deps.tokens.verify(CLICK, token);
    if (value === null) return null;
    const slash = value.lastIndexOf('/');
    const index = Number(value.slice(slash + 1));
    if (slash <= 0 || !Number.isInteger(index) || index < 0 || index >= MAX_TRACKED_LINKS) return null;
    return store.recordClick(this.deps.db, value.slice(0, slash), index, visit(request));
  }
}

function visit(request: TrackingRequest): store.Visit {
  const userAgent = request.userAgent ? request.userAgent.slice(0, USER_AGENT_CHARS) : null;
  // a HEAD request never shows the image nor follows the redirect: a scanner checking the URL
  return { bot: request.method === 'HEAD' || isBotUserAgent(request.userAgent), userAgent, method: request.method };
}

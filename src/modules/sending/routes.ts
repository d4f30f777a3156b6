import type { FastifyInstance } from 'fastify';
import type { Tier } from '../../config/config.js';
import { requireKey } from '../keys/auth-hook.js';
import type { SendingService } from './service.js';

const TIER_PATHS: Record<string, Tier> = { instant: 'instant', high: 'high', async: 'async', bulk: 'bulk', queue: 'async' };
/** Current, legacy (PHP ≤1.11.8, Rust 1.11.0) and root (Guzzle drops the base path) prefixes all serve the same routes. */
export const SEND_PREFIXES = ['/api/v1/send-email', '/api/v1/public/send-email', '/send-email'];
/** Base64 attachments up to the 40 MB message cap, plus JSON overhead. */
const SEND_BODY_LIMIT = 60 * 1024 * 1024;

export function registerSendingRoutes(app: FastifyInstance, sending: SendingService): void {
  for (const prefix of SEND_PREFIXES) {
    for (const [segment, tier] of Object.entries(TIER_PATHS)) {
      app.post(`${prefix}/${segment}`, { config: { auth: { key: 'regular' } }, bodyLimit: SEND_BODY_LIMIT }, async (request) => {
        const idempotencyKey = request.headers['idempotency-key'];
        return sending.accept({
          key: requireKey(request),
          tier,
          body: request.body,
          ...(typeof idempotencyKey === 'string' ? { idempotencyKey } : {}),
        });
      });
    }
  }
}

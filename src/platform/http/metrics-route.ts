import type { FastifyInstance } from 'fastify';
import ipaddr from 'ipaddr.js';
import { constantTimeEqual, sha256Hex } from '../crypto.js';
import type { Metrics } from '../metrics.js';
import { z } from 'zod';
import { ApiError } from './errors.js';
import { errorResponses, operation } from './schemas.js';

/**
 * Whether a socket's peer is this machine: 127.0.0.0/8, ::1, or either written as IPv4-mapped IPv6. The caller
 * passes the socket's own remote address, never X-Forwarded-For (or request.ip under TRUST_PROXY): a header a
 * client writes must not make it local.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'loopback';
}

const metricsSchema = {
  ...operation({
    summary: 'Prometheus metrics',
    description:
      "This process's counters and histograms, and the database-wide queue gauges, in Prometheus' text format. With METRICS_TOKEN set it needs `Authorization: Bearer <METRICS_TOKEN>`; without it, it answers clients on this machine only.",
    tag: 'Operations',
    extension: true,
  }),
  response: {
    200: {
      description: 'The metrics',
      content: { 'text/plain': { schema: z.string().meta({ examples: ['# HELP keplars_emails_accepted_total Emails accepted\n# TYPE keplars_emails_accepted_total counter\nkeplars_emails_accepted_total{tier="instant"} 3\n'] }) } },
    },
    ...errorResponses({ key: false, extra: [401, 403] }),
  },
};

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** METRICS_TOKEN; null = loopback clients only */
  token: string | null;
  /** reads what is read at scrape time (the queue gauges); must bound its own wait */
  refresh(): Promise<void>;
}

/**
 * GET /metrics in Prometheus' text format. With a token, only `Authorization: Bearer <token>` is answered
 * (compared in constant time, through hashes so the length does not show either); without one, only clients
 * on this machine are. Not an API-key route: it declares no `config.auth`, like the other public routes.
 */
export function registerMetricsRoute(app: FastifyInstance, opts: MetricsRouteOptions): void {
  const tokenHash = opts.token === null ? null : sha256Hex(opts.token);
  app.get('/metrics', { schema: metricsSchema }, async (request, reply) => {
    if (tokenHash !== null) {
      const given = BEARER.exec(request.headers.authorization ?? '')?.[1];
      if (!given || !constantTimeEqual(sha256Hex(given), tokenHash)) throw new ApiError('UNAUTHORIZED', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>');
    } else if (!isLoopbackAddress(request.raw.socket.remoteAddress)) {
      throw new ApiError('FORBIDDEN', 'GET /metrics answers clients on this machine only; set METRICS_TOKEN to scrape it from elsewhere');
    }
    await opts.refresh();
    const text = await opts.metrics.text();
    return reply.header('Content-Type', opts.metrics.contentType).header('Cache-Control', 'no-store').send(text);
  });
}

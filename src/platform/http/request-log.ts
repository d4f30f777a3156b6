import type { FastifyInstance, FastifyRequest } from 'fastify';
import { unredactedLogger, type Logger } from '../logger.js';

export interface RequestLogOptions {
  /** the workspace of the key the request used, if any */
  workspaceOf(request: FastifyRequest): string | null;
  /** routes (as registered, e.g. `/api/v1/send-email/instant`) whose durations are observed, and where to */
  timed?: { routes: ReadonlySet<string>; observe(route: string, seconds: number): void };
}

/**
 * One line per answered request: method, route, status, duration, the workspace of the key used and the request
 * id (`reqId`, the one the request's own log lines carry). The route is the registered pattern (`/v/:token`),
 * never the URL, so path tokens and query strings stay out of the log; a request that matched no route logs
 * `route: null`. Runs after the answer is sent, without awaiting anything, so it costs the client nothing.
 */
export function registerRequestLog(app: FastifyInstance, opts: RequestLogOptions): void {
  const timed = opts.timed;
  // every field below is chosen here and none is secret: no redaction pass on the accept path
  const lines = unredactedLogger(app.log as Logger);
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? null;
    const durationMs = reply.elapsedTime;
    if (timed && route !== null && timed.routes.has(route)) timed.observe(route, durationMs / 1000);
    lines.info(
      { reqId: request.id, method: request.method, route, status: reply.statusCode, durationMs: Math.round(durationMs * 100) / 100, workspaceId: opts.workspaceOf(request) },
      'request',
    );
    done();
  });
}

import { loadConfig, type Config } from '../../src/config/config.js';
import { startApp, type Roles, type RunningApp } from '../../src/app/app.js';
import { createLogger, type Logger } from '../../src/platform/logger.js';
import { createPostgresDatabase, type Backend, type TestPostgres } from './databases.js';
import { openMigratedEmbedded } from './embedded-snapshot.js';

export interface TestApp {
  app: RunningApp;
  url: string;
  config: Config;
  backend: Backend;
  /** a fresh workspace with its admin key and one regular key */
  workspace(plan?: string): Promise<{ id: string; adminKey: string; key: string }>;
  close(): Promise<void>;
}

/**
 * Starts the real server on 127.0.0.1:0 against a fresh database: an in-memory PGlite or a new
 * PostgreSQL database that is dropped afterwards.
 */
export async function startTestApp(opts: { backend: Backend; env?: Record<string, string>; roles?: Roles; logger?: Logger }): Promise<TestApp> {
  let pgdb: TestPostgres | null = null;
  const env: Record<string, string> = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', RETRY_BASE_MS: '50', ...opts.env };
  if (opts.backend === 'postgres') {
    pgdb = await createPostgresDatabase({ migrated: true });
    env.DATABASE_URL = pgdb.url;
  }
  const config = loadConfig(env);
  const database = opts.backend === 'pglite' ? await openMigratedEmbedded() : undefined;
  const app = await startApp({ config, roles: opts.roles ?? { api: true, worker: true, inbound: true }, logger: opts.logger ?? createLogger('silent'), ...(database ? { database } : {}) });
  return {
    app,
    url: app.url ?? '',
    config,
    backend: opts.backend,
    async workspace(plan = 'ENTERPRISE') {
      const created = await app.services.workspaces.create({ name: 'Test workspace', plan });
      const key = await app.services.keys.createRegularKey({ workspaceId: created.workspace.id, name: 'test' });
      return { id: created.workspace.id, adminKey: created.adminKey, key: key.secretKey };
    },
    async close() {
      await app.close();
      await database?.close();
      await pgdb?.drop();
    },
  };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

/** fetch with JSON in and out; the body is always parsed because every answer must be a JSON object. */
export async function call(
  url: string,
  opts: { method?: string; key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: opts.method ?? (body !== undefined ? 'POST' : 'GET'), headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { __notJson: text };
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

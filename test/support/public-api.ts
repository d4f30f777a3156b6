import { expect } from 'vitest';
import { call, type ApiResponse, type TestApp } from './app.js';

export type Json = Record<string, unknown>;
export type Ws = { id: string; adminKey: string; key: string };

/**
 * Calls to `/api/v1/public/…` with a workspace's admin key (the default workspace unless one is given), and the
 * `data` of a success envelope. Takes getters because the app and workspace are made in a beforeAll.
 */
export function publicApi(app: () => TestApp, defaultWs: () => Ws) {
  const api = (path: string, opts: Parameters<typeof call>[1] = {}, w: Ws = defaultWs()) => call(`${app().url}/api/v1/public/${path}`, { key: w.adminKey, ...opts });
  const ok = (res: ApiResponse): Json => {
    expect(res.status, res.text).toBe(200);
    expect(res.body.success).toBe(true);
    return res.body.data as Json;
  };
  return { api, ok };
}

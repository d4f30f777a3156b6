import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { ApiError, ERROR_CODES, type ErrorCode } from '../http/errors.js';

export const ADMIN_SOCKET_NAME = 'admin.sock';

export type AdminHandler = (command: string, args: Record<string, unknown>) => Promise<unknown>;

export function adminSocketPath(dataDir: string): string {
  return path.join(dataDir, ADMIN_SOCKET_NAME);
}

/**
 * A local socket, readable by its owner only, through which the CLI asks a running embedded server to act:
 * the embedded database must never be opened by a second process.
 */
export async function startAdminSocket(dataDir: string, handler: AdminHandler): Promise<{ close(): Promise<void> }> {
  const socketPath = adminSocketPath(dataDir);
  await fs.rm(socketPath, { force: true });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let status = 200;
        let body: unknown;
        try {
          if (req.url === '/ping') body = { ok: true, pid: process.pid };
          else {
            const { command, args } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { command: string; args: Record<string, unknown> };
            body = { ok: true, result: await handler(command, args ?? {}) };
          }
        } catch (err) {
          status = 400;
          // the code lets the CLI tell a refusal (an unknown id, a limit) from a bug, as it does in-process
          body = { ok: false, error: (err as Error).message, ...(err instanceof ApiError ? { code: err.code } : {}) };
        }
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      })();
    });
  });
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, resolve);
    });
  } finally {
    process.umask(previous);
  }
  await fs.chmod(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => fs.rm(socketPath, { force: true })),
  };
}

function request(socketPath: string, pathName: string, payload: unknown, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(payload ?? {});
    const req = http.request({ socketPath, path: pathName, method: 'POST', headers: { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('admin socket timed out')));
    req.on('error', reject);
    req.end(data);
  });
}

/** The pid of the live server on this data folder, or null when nothing answers. */
export async function pingAdminSocket(dataDir: string, timeoutMs = 2000): Promise<number | null> {
  try {
    const res = await request(adminSocketPath(dataDir), '/ping', {}, timeoutMs);
    const body = res.body as { ok?: boolean; pid?: number };
    return body.ok ? (body.pid ?? null) : null;
  } catch {
    return null;
  }
}

export async function callAdminSocket(dataDir: string, command: string, args: Record<string, unknown>): Promise<unknown> {
  const res = await request(adminSocketPath(dataDir), '/command', { command, args }, 120_000);
  const body = res.body as { ok: boolean; result?: unknown; error?: string; code?: string };
  if (!body.ok) {
    const message = body.error ?? 'admin command failed';
    throw body.code !== undefined && body.code in ERROR_CODES ? new ApiError(body.code as ErrorCode, message) : new Error(`the server that holds ${dataDir} failed: ${message}`);
  }
  return body.result;
}

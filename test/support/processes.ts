import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/keplars-server.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (the built bin) as a separate process. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}

export interface ServerProcess {
  child: ChildProcess;
  url: string | null;
  output(): string;
  /** resolves with the exit code */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a server role and waits for its "ready" log line (which carries the URL). */
export function startServerProcess(role: string, env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, role], { env: { ...baseEnv(), LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const proc: ServerProcess = {
      child,
      url: null,
      output: () => out,
      exited,
      async stop(signal = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`${role} did not become ready: ${out}`));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (settled) return;
      for (const line of out.split('\n')) {
        if (!line.includes('keplars-server ready')) continue;
        try {
          proc.url = (JSON.parse(line) as { url: string | null }).url;
        } catch {
          continue;
        }
        settled = true;
        clearTimeout(timer);
        resolve(proc);
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${role} exited with ${code} before it was ready: ${out}`));
    });
  });
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves once stderr matches, rejects if the command exits first or after timeoutMs */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  result: Promise<CliResult>;
}

/** Starts the real CLI and lets a test watch its output while it runs (runCli only reports at the end). */
export function spawnCli(args: string[], env: Record<string, string>, timeoutMs = 120_000): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
    for (const w of watchers) w();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const result = new Promise<CliResult>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      for (const w of watchers) w();
      resolve({ code, stdout, stderr });
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    result,
    waitForStderr: (pattern, waitMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(stderr)) done(null);
          else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`CLI ${args.join(' ')} exited before printing ${pattern}; stderr: ${stderr}`));
        };
        const timeout = setTimeout(() => done(new Error(`CLI ${args.join(' ')} did not print ${pattern}; stderr: ${stderr}`)), waitMs);
        const done = (err: Error | null) => {
          clearTimeout(timeout);
          watchers.delete(check);
          if (err) reject(err);
          else resolve();
        };
        watchers.add(check);
        check();
      }),
  };
}

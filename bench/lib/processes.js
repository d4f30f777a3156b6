// Spawning child processes for the bench, waiting for them to be ready, and making sure none outlives it.
import { fork, spawn } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'bin', 'keplars-server.js');

/** Every child the bench started and has not seen exit. */
const live = new Set();
/** Every server and helper the bench started (CLI commands excluded), for the report. */
const allEntries = [];

/** Environment variables the server reads: never inherited from the caller's shell, so a run is reproducible. */
const SERVER_VARS = [
  'PORT', 'HOST', 'DATABASE_URL', 'DATA_DIR', 'SMTP_URL', 'DELIVERY_MODE', 'DNS_SERVERS', 'MX_PORT', 'HELO_NAME',
  'PUBLIC_URL', 'LOG_LEVEL', 'WORKER_CONCURRENCY', 'INSTANT_WORKERS', 'SMTP_MAX_CONNECTIONS', 'RETRY_BASE_MS',
  'DELIVERY_LEASE_MS', 'MESSAGE_ID_DOMAIN', 'DEFAULT_FROM', 'UNAUTHENTICATED_REQUESTS_PER_SECOND',
  'IMPORT_MAX_BYTES', 'IMPORT_MAX_ACTIVE',
];

/** The sender of the bench's emails (outside the dkim phase, which sends from its own verified domain). */
export const BENCH_SENDER = 'bench@example.test';

export function serverEnv(extra = {}) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (SERVER_VARS.includes(name) || name.startsWith('PLAN_')) delete env[name];
  }
  // keys not tied to a domain may send as DEFAULT_FROM: workers deliver the bench's mail as permitted mail,
  // without noting an unverified sender on every email's timeline
  return { ...env, HOST: '127.0.0.1', LOG_LEVEL: 'info', DEFAULT_FROM: BENCH_SENDER, ...extra };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` unless `promise` settles first. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function track(name, child) {
  const entry = {
    name,
    child,
    pid: child.pid,
    exited: false,
    exitCode: null,
    exitSignal: null,
    /** last lines of output, for error reports */
    tail: [],
    /** pino lines at warn (40) or above, with a few samples */
    problems: { warn: 0, error: 0, samples: [] },
    /** when the bench asked it to stop; a server shutting down before that was stopped by someone else */
    stopRequestedAt: null,
    /** 'shutting down' lines the server logged, with the signal it names */
    shutdowns: [],
    lineListeners: new Set(),
  };
  entry.exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      entry.exited = true;
      entry.exitCode = code;
      entry.exitSignal = signal;
      live.delete(entry);
      resolve({ code, signal });
    });
  });
  child.once('error', (err) => {
    entry.tail.push(`[spawn error] ${err.message}`);
  });
  live.add(entry);
  const onLines = (stream, label) => {
    if (!stream) return;
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        entry.tail.push(`${label}${line}`);
        if (entry.tail.length > 40) entry.tail.shift();
        let parsed = null;
        if (line.startsWith('{')) {
          try {
            parsed = JSON.parse(line);
          } catch {
            parsed = null;
          }
        }
        if (parsed && parsed.msg === 'shutting down') {
          entry.shutdowns.push({ signal: parsed.signal ?? null, at: Date.now(), requestedByBench: entry.stopRequestedAt !== null });
        }
        if (parsed && typeof parsed.level === 'number' && parsed.level >= 40) {
          if (parsed.level >= 50) entry.problems.error++;
          else entry.problems.warn++;
          if (entry.problems.samples.length < 5) entry.problems.samples.push(line.slice(0, 600));
        }
        for (const listener of entry.lineListeners) listener(line, parsed, label === '' ? 'stdout' : 'stderr');
      }
    });
  };
  onLines(child.stdout, '');
  onLines(child.stderr, '[stderr] ');
  return entry;
}

/** Starts a process with piped output. */
export function start(name, command, args, opts = {}) {
  const child = spawn(command, args, { cwd: ROOT, env: opts.env ?? serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = track(name, child);
  if (!opts.oneShot) allEntries.push(entry);
  return entry;
}

/** Starts a bench helper module with an IPC channel (the SMTP sink, the bare HTTP server). */
export function startModule(name, modulePath, args = [], opts = {}) {
  const child = fork(modulePath, args, { cwd: ROOT, env: opts.env ?? serverEnv(), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const entry = track(name, child);
  allEntries.push(entry);
  return entry;
}

export function describe(entry) {
  const status = entry.exited ? `exited (code ${entry.exitCode}, signal ${entry.exitSignal})` : 'running';
  return `${entry.name} [pid ${entry.pid}] ${status}; last output:\n    ${entry.tail.slice(-12).join('\n    ') || '(none)'}`;
}

/** Resolves with the first line (and its JSON, if any) for which `test` is true; rejects if the process exits first. */
export function waitForLine(entry, test, timeoutMs, what = 'line') {
  const found = new Promise((resolve, reject) => {
    const listener = (line, parsed) => {
      if (test(line, parsed)) {
        entry.lineListeners.delete(listener);
        resolve({ line, parsed, at: Date.now() });
      }
    };
    entry.lineListeners.add(listener);
    void entry.exitPromise.then(() => {
      if (entry.lineListeners.delete(listener)) reject(new Error(`${entry.name} exited before ${what}: ${describe(entry)}`));
    });
  });
  return withTimeout(found, timeoutMs, `${entry.name} waiting for ${what}`).catch((err) => {
    throw new Error(`${err.message}\n  ${describe(entry)}`);
  });
}

/** Waits for the server's `"msg":"keplars-server ready"` line; resolves with its url (null for a worker) and the time it was seen. */
export async function waitForReady(entry, timeoutMs = 60_000) {
  const { parsed, at } = await waitForLine(entry, (_line, p) => p !== null && p.msg === 'keplars-server ready', timeoutMs, 'ready');
  return { url: parsed.url ?? null, at };
}

/** Resolves with the first IPC message of the given type. */
export function waitForMessage(entry, type, timeoutMs) {
  const got = new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg && msg.type === type) {
        entry.child.off('message', onMessage);
        resolve(msg);
      }
    };
    entry.child.on('message', onMessage);
    void entry.exitPromise.then(() => reject(new Error(`${entry.name} exited before sending '${type}': ${describe(entry)}`)));
  });
  return withTimeout(got, timeoutMs, `${entry.name} waiting for '${type}'`);
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process has exited. */
export async function stop(entry, graceMs = 10_000) {
  if (!entry || entry.exited) return entry?.exitPromise;
  entry.stopRequestedAt ??= Date.now();
  try {
    entry.child.kill('SIGTERM');
  } catch {
    // already gone
  }
  let timer;
  const killed = new Promise((resolve) => {
    timer = setTimeout(() => {
      entry.tail.push('[bench] did not exit after SIGTERM; sent SIGKILL');
      try {
        entry.child.kill('SIGKILL');
      } catch {
        // already gone
      }
      resolve();
    }, graceMs);
  });
  await Promise.race([entry.exitPromise, killed]);
  clearTimeout(timer);
  return entry.exitPromise;
}

export async function stopAll(graceMs = 5_000) {
  await Promise.all([...live].map((e) => stop(e, graceMs)));
}

/** Everything the bench started that stopped or began shutting down without being asked to. */
export function unexpectedExits() {
  return allEntries
    .filter((e) => (e.exited && e.stopRequestedAt === null) || e.shutdowns.some((s) => !s.requestedByBench))
    .map((e) => ({
      name: e.name,
      pid: e.pid,
      exit: e.exited ? { code: e.exitCode, signal: e.exitSignal } : null,
      shutdowns: e.shutdowns,
      lastOutput: e.tail.slice(-6),
    }));
}

/** Last resort, usable in a synchronous 'exit' handler. */
export function killAllNow() {
  for (const entry of live) {
    try {
      entry.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Runs a CLI command to completion and returns its stdout (rejects on a non-zero exit or after `timeoutMs`). */
export async function runCli(args, env, timeoutMs = 60_000) {
  const entry = start(`keplars-server ${args.slice(0, 2).join(' ')}`, process.execPath, [CLI, ...args], { env, oneShot: true });
  let stdout = '';
  entry.lineListeners.add((line, _parsed, stream) => {
    if (stream === 'stdout') stdout += `${line}\n`;
  });
  try {
    const { code, signal } = await withTimeout(entry.exitPromise, timeoutMs, entry.name);
    if (code !== 0) throw new Error(`${entry.name} failed (code ${code}, signal ${signal}):\n    ${entry.tail.join('\n    ')}`);
    return stdout;
  } finally {
    await stop(entry, 2_000);
  }
}

/**
 * Starts `keplars-server <role>`. With BENCH_CPU_PROF=1 each server process writes a V8 CPU profile to
 * bench/results/profiles/ when it exits (for finding where a figure's time goes; it slows the run).
 */
export function startServer(name, role, env) {
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles')}`, `--cpu-prof-name=${name.replace(/[^a-z0-9]+/gi, '-')}-${Date.now()}.cpuprofile`]
    : [];
  return start(name, process.execPath, [...profile, CLI, role], { env });
}

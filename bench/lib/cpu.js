// CPU accounting from /proc, to tell where a measured section's time went: the bench process, its
// children, PostgreSQL's processes, and the machine as a whole.
import { readFileSync, readdirSync } from 'node:fs';
import process from 'node:process';
import { sleep } from './processes.js';
import { round } from './stats.js';

const TICKS_PER_SEC = 100; // USER_HZ on Linux

function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    return { comm: text.slice(text.indexOf('(') + 1, close), rest: text.slice(close + 2).split(' ') };
  } catch {
    return null;
  }
}

/** user + system CPU seconds of one process (its own threads, not its children) */
function processCpuSec(pid) {
  const f = statFields(pid);
  return f ? (Number(f.rest[11]) + Number(f.rest[12])) / TICKS_PER_SEC : null;
}

function postgresCpuSec() {
  let total = 0;
  let processes = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f && f.comm.startsWith('postgres')) {
      // the postmaster's cutime/cstime hold the CPU of backends that have exited
      total += (Number(f.rest[11]) + Number(f.rest[12]) + Number(f.rest[13]) + Number(f.rest[14])) / TICKS_PER_SEC;
      processes++;
    }
  }
  return { total, processes };
}

function machine() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = line[3] + (line[4] ?? 0);
  const total = line.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SEC, total: total / TICKS_PER_SEC, irq: ((line[5] ?? 0) + (line[6] ?? 0)) / TICKS_PER_SEC, steal: (line[7] ?? 0) / TICKS_PER_SEC };
}

/**
 * Starts measuring. `named` maps a label to a tracked process entry (or a pid). Call the returned
 * function at the end of the section: it gives CPU seconds per label, for PostgreSQL, and the rest.
 */
export function startCpu(named) {
  const pids = Object.fromEntries(Object.entries(named).map(([label, e]) => [label, typeof e === 'number' ? e : e.pid]));
  const before = {
    at: Date.now(),
    self: process.cpuUsage(),
    machine: machine(),
    pg: postgresCpuSec(),
    children: Object.fromEntries(Object.entries(pids).map(([label, pid]) => [label, processCpuSec(pid)])),
  };
  return () => {
    const wallSec = (Date.now() - before.at) / 1000;
    const self = process.cpuUsage(before.self);
    const m = machine();
    const busy = m.busy - before.machine.busy;
    const out = { wallSec: round(wallSec, 2), machineBusySec: round(busy, 2), machineBusyPct: round((100 * busy) / (m.total - before.machine.total), 1), cpuSec: {} };
    out.cpuSec.bench = round((self.user + self.system) / 1e6, 2);
    let accounted = out.cpuSec.bench;
    for (const [label, pid] of Object.entries(pids)) {
      const now = processCpuSec(pid);
      const was = before.children[label];
      const used = now !== null && was !== null ? now - was : null;
      out.cpuSec[label] = round(used, 2);
      accounted += used ?? 0;
    }
    // backends that started during the section count from zero; ones that exited are lost (none should)
    const pgNow = postgresCpuSec();
    out.cpuSec.postgres = round(pgNow.total - before.pg.total, 2);
    accounted += out.cpuSec.postgres;
    // interrupt time (loopback TCP is mostly softirq) and time the hypervisor gave to other guests
    out.cpuSec.kernelIrq = round(m.irq - before.machine.irq, 2);
    out.cpuSec.steal = round(m.steal - before.machine.steal, 2);
    accounted += out.cpuSec.kernelIrq + out.cpuSec.steal;
    out.cpuSec.other = round(busy - accounted, 2);
    return out;
  };
}

/** Share of the machine's CPU in use over `ms` (0–100). */
export async function machineBusyPct(ms = 1_000) {
  const a = machine();
  await sleep(ms);
  const b = machine();
  return round((100 * (b.busy - a.busy)) / (b.total - a.total), 1);
}

/**
 * This machine may be shared (builds, tests). Waits, up to `maxWaitMs`, for a second in which less than
 * `thresholdPct` of the CPU is busy; returns what it saw so the report can say the figures are noisy.
 */
export async function waitForQuiet(maxWaitMs = 15_000, thresholdPct = 20) {
  const deadline = Date.now() + maxWaitMs;
  const seen = [];
  for (;;) {
    const pct = await machineBusyPct(1_000);
    seen.push(pct);
    if (pct < thresholdPct) return { quiet: true, busyPct: seen };
    if (Date.now() >= deadline) return { quiet: false, busyPct: seen };
  }
}

/** What `settle` saw before each measured section, for the report. */
export const settleLog = [];

/** Waits for a quiet machine before the measured section `label` (see waitForQuiet) and logs it. */
export async function settle(label) {
  const q = await waitForQuiet();
  settleLog.push({ section: label, ...q });
  if (!q.quiet) process.stderr.write(`[bench] ${label}: the machine stayed busy (${q.busyPct.join('%, ')}% CPU); this figure will be noisy\n`);
  return q;
}

/**
 * Runs a synchronous function and measures the CPU time this process spent on it. Unlike wall time, it does
 * not grow when other processes load the machine, so a generous bound on it is a stable proof that work is
 * linear (a quadratic pass over megabytes takes hours, a linear one well under a second).
 */
export function cpuTimeOf<T>(fn: () => T): { result: T; ms: number } {
  const before = process.cpuUsage();
  const result = fn();
  const used = process.cpuUsage(before);
  return { result, ms: (used.user + used.system) / 1000 };
}

/**
 * CPU time a linear pass over an input of this many megabytes stays well within; a quadratic one takes hours.
 * The bounds leave room for a slow host sharing its cores with the rest of the suite: 10 MB of entity-like text
 * took 3.1 s of CPU on a two-core CI machine, a tenth of what this allows, while a quadratic pass would take hours.
 */
export function linearBoundMs(megabytes: number): number {
  return megabytes <= 1 ? 2000 : 10_000;
}

/** `unit` repeated to `megabytes` MB (cut to that length). */
export function megabytesOf(unit: string, megabytes: number): string {
  const length = megabytes * 1024 * 1024;
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/**
 * Waits for p, but at most ms: true if it settled (resolved or rejected) in time. The work itself goes on;
 * this only bounds how long a caller waits, e.g. a shutdown step that must fit in the grace period. A
 * rejection is observed either way, so a step that fails late cannot crash the process.
 */
export function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  const done = p.then(
    () => true,
    () => true,
  );
  if (!(ms > 0)) return Promise.resolve(false);
  // no bound: a timer cannot hold Infinity (Node fires it after 1 ms instead), so wait for p itself
  if (!Number.isFinite(ms)) return done;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void done.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

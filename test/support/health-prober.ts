import { spawn } from 'node:child_process';

export interface HealthProbes {
  /** the slowest /health answer, in ms */
  slowestMs: number;
  probes: number;
  /** answers other than 200, and requests that failed */
  failures: number;
}

export interface HealthProber {
  /** Stops probing once the probe in flight is answered (so a stall in progress is measured) and reports. */
  stop(): Promise<HealthProbes>;
}

// Runs in its own process: a server stalled by work on its event loop cannot hold the prober's clock, which a
// prober in the test process (where startTestApp runs the server) could not promise.
const PROBER = `
const url = process.argv[1];
let stopping = false;
process.stdin.on('end', () => { stopping = true; });
process.stdin.resume();
const report = { slowestMs: 0, probes: 0, failures: 0 };
while (!stopping || report.probes === 0) {
  const started = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(120000) });
    await res.text();
    if (res.status !== 200) report.failures++;
  } catch {
    report.failures++;
  }
  report.slowestMs = Math.max(report.slowestMs, performance.now() - started);
  if (report.probes++ === 0) process.stdout.write('ready\\n');
  await new Promise((resolve) => setTimeout(resolve, 20));
}
process.stdout.write(JSON.stringify(report) + '\\n');
`;

/** Asks `${baseUrl}/health` every 20 ms from a separate process until stopped; resolves after its first answer. */
export function startHealthProber(baseUrl: string): Promise<HealthProber> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', PROBER, `${baseUrl}/health`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the /health prober did not get a first answer within 30 s'));
    }, 30_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the /health prober exited with ${String(code)} before its first answer: ${output}`));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      const before = output;
      output += chunk.toString();
      if (before.includes('ready\n') || !output.includes('ready\n')) return;
      clearTimeout(timer);
      resolve({
        async stop() {
          child.stdin.end();
          const code = await exited;
          const line = output.split('\n').find((l) => l.startsWith('{'));
          if (code !== 0 || line === undefined) throw new Error(`the /health prober exited with ${String(code)}: ${output}`);
          return JSON.parse(line) as HealthProbes;
        },
      });
    });
  });
}

/** Runs `work` while a separate process asks /health every 20 ms; answers its result and what the prober saw. */
export async function whileProbingHealth<T>(baseUrl: string, work: () => Promise<T>): Promise<{ result: T; health: HealthProbes }> {
  const prober = await startHealthProber(baseUrl);
  let result: T;
  try {
    result = await work();
  } catch (err) {
    // no prober outlives its test
    await prober.stop().catch(() => undefined);
    throw err;
  }
  return { result, health: await prober.stop() };
}

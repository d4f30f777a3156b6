import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default (one core fewer than the machine) runs one file at a time on two cores, but most files spend
    // their time waiting on child processes, PostgreSQL and sockets: one file per core halves the suite there. One
    // more than cores was no faster on two cores (913 s against 910 s) and only adds contention.
    maxWorkers: Math.max(2, availableParallelism()),
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      // the modules' own tests share a process per worker: they hold no state between files (no mocks, no stubbed
      // environment or timers), and importing the modules once per worker instead of once per file halves their CPU
      { extends: true, test: { name: 'modules', include: ['src/**/*.test.ts'], isolate: false } },
      // the end-to-end tests start servers and processes: each file in a process of its own
      { extends: true, test: { name: 'end-to-end', include: ['test/**/*.test.ts'] } },
    ],
  },
});

import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default (one core fewer than the machine) runs one file at a time on two cores, but most files spend
    // their time waiting on child processes, PostgreSQL and sockets: one file per core halves the suite there. One
    // more than cores was no faster on two cores (913 s against 910 s) and only adds contention.
    maxWorkers: Math.max(2, availableParallelism()),
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});

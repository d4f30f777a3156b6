import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default (one core fewer than the machine) runs one file at a time on two cores, but most files spend
    // their time waiting on child processes, PostgreSQL and sockets: one file per core halved the suite there, and
    // one more file than cores keeps the cores busy while the others wait.
    maxWorkers: Math.max(2, availableParallelism() + 1),
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});

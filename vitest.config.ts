import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real SQLite files and child processes: give slow CI machines room, never sleep for timing.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // The default summary, then a loud line if stack tests were skipped for want of promtool/prometheus.
    reporters: ['default', './test/support/skipped-stack-tests-reporter.ts'],
  },
});

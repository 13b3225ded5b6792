import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // A bound for a hung test, not a speed target (those live in bench/): tests that make venvs, build wheels or
    // roots run 5-50 s on a quiet 2-core machine and several times that when it is loaded.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Tests spawn real servers and real tools; two cores, so keep files parallel but bounded.
    pool: 'forks',
    maxWorkers: 2,
  },
});

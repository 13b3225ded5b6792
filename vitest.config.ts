import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn real servers and real tools; two cores, so keep files parallel but bounded.
    pool: 'forks',
    maxWorkers: 2,
  },
});

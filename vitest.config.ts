import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `lab` talks to the real lab
// (OpenStack, Kubernetes, SSH) started by `npm run lab:up` and runs serially.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['__tests__/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['__tests__/lab/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
});

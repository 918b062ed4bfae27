import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `lab` talks to the real lab
// (OpenStack, Kubernetes, SSH, the mirror) started by `npm run lab:up` and
// runs serially. The lab is required: its global setup probes every part
// once, and a part that does not answer fails every lab test by name. Only
// `CAPI_LAB_SKIP=1` with `npm test` leaves the lab project out, and says so.
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
          globalSetup: ['__tests__/helpers/lab-global-setup.ts'],
          setupFiles: ['__tests__/helpers/lab-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
});

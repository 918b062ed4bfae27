/**
 * Runs before every lab test file: when a lab part did not answer the global
 * probe, the file fails (every test in it counts as failed in the closing
 * line of `npm test`) with the missing parts named, before any of the file's
 * own hooks touch the lab.
 */
import { beforeAll, inject } from 'vitest';
import { missingParts } from './lab-parts.js';

const status = inject('labStatus');

beforeAll(() => {
  if (status === 'skipped')
    throw new Error('CAPI_LAB_SKIP=1 leaves the lab out: run lab tests without it, with the lab up (`npm run lab:up`)');
  const missing = missingParts(status);
  if (missing) throw new Error(missing);
});

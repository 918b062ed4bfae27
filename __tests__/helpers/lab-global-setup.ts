/**
 * The lab project's global setup: probe every lab part once per run and hand
 * the result to the test files (`lab-setup.ts` fails them when a part is
 * missing). With CAPI_LAB_SKIP=1 nothing is probed: the lab project is
 * then not meant to run at all.
 */
import type { TestProject } from 'vitest/node';
import { probeLab, type LabStatus } from './lab-parts.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Per lab part, whether it answered; `skipped` when CAPI_LAB_SKIP=1. */
    labStatus: LabStatus | 'skipped';
  }
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide('labStatus', process.env.CAPI_LAB_SKIP === '1' ? 'skipped' : await probeLab());
}

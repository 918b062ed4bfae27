/**
 * What a run reports to its face. A discriminated union on `ok` and
 * `failureReason`, so a face cannot read a plan-changed plan without
 * having checked that it is one.
 */
import type { ConfigError } from '../config/errors.js';
import type { LoadedEnvironment } from '../config/load.js';
import type { Outputs } from '../engine/outputs.js';
import type { RunSecrets } from '../engine/types.js';
import type { Change, Plan } from '../plan/plan.js';

/** The `failure-reason` output and the CLI's failure line; empty on success. */
export type FailureReason =
  'invalid-config' | 'plan-changed' | 'drift' | 'locked' | 'plan-failed' | 'apply-failed' | 'usage';

interface Common {
  /** The plan has changes (plan, drift) or had them before the run acted. */
  changes: boolean;
  /** The plan made before the run acted; for plan-changed, the fresh one that differs from the approved one. */
  plan?: Plan;
  /** What was applied (apply, drift --reconcile, destroy, restore). */
  applied?: Change[];
  loaded?: LoadedEnvironment;
  /** What the layers handed on (e.g. the cluster kubeconfig for the artifact); holds secrets. */
  outputs?: Outputs;
}

interface Succeeded extends Common {
  ok: true;
  failureReason?: undefined;
  loaded: LoadedEnvironment;
}

export interface InvalidConfig extends Common {
  ok: false;
  failureReason: 'invalid-config';
  /** Every problem, with file, line and column. */
  configError: ConfigError;
}

export interface Failed extends Common {
  ok: false;
  failureReason: Exclude<FailureReason, 'invalid-config' | 'drift'>;
  /** Redacted. */
  error: Error;
  /** A layer needed this secret and the run was not given it; the face says where it takes it from. */
  missingSecret?: keyof RunSecrets;
}

export type RunOutcome = Succeeded | InvalidConfig | Failed;

/** A failure before the run could start (bad inputs, a refused approval): nothing was read or changed. */
export function failedBeforeRun(failureReason: Failed['failureReason'], message: string): Failed {
  return { ok: false, failureReason, error: new Error(message), changes: false };
}

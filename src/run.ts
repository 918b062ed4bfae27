/**
 * One entry for both faces: load the environment, build the engine, run a
 * command, and report a typed outcome. The faces only translate inputs in
 * and the outcome out.
 */
import { ConfigError } from './config/errors.js';
import { loadEnvironment, type LoadedEnvironment } from './config/load.js';
import { Engine, PlanChangedError, type Command, type RunResult } from './engine/engine.js';
import type { Logger, RunSecrets } from './engine/types.js';
import type { Outputs } from './engine/outputs.js';
import { defaultLayers, type LayerFactory } from './layers/index.js';
import { hasChanges, type Change, type Plan } from './plan/plan.js';
import { redactError, redactingLogger, Redactor } from './util/redact.js';

export type FailureReason = 'invalid-config' | 'plan-changed' | 'drift' | 'locked' | 'apply-failed' | 'usage';

export interface RunRequest {
  command: Command;
  environment: string;
  environmentsDir: string;
  log: Logger;
  secrets?: RunSecrets;
  /** restore: the backup name or `latest`. */
  backup?: string;
  /** drift: apply what drifted. */
  reconcile?: boolean;
  /** apply: the approved plan hash. */
  expectedHash?: string;
  layers?: LayerFactory;
  env?: Record<string, string | undefined>;
  cloudsYamlOverride?: string;
  /** Called once the environment is loaded, e.g. to mask its secrets in logs. */
  onLoaded?: (loaded: LoadedEnvironment) => void;
}

export interface RunOutcome {
  ok: boolean;
  failureReason?: FailureReason;
  /** Positioned config errors (invalid-config). */
  configError?: ConfigError;
  error?: Error;
  plan?: Plan;
  applied?: Change[];
  changes: boolean;
  loaded?: LoadedEnvironment;
  /** What the layers handed on (e.g. the cluster kubeconfig for the artifact); holds secrets. */
  outputs?: Outputs;
}

export async function runCommand(req: RunRequest): Promise<RunOutcome> {
  let loaded: LoadedEnvironment;
  try {
    loaded = loadEnvironment({
      name: req.environment,
      environmentsDir: req.environmentsDir,
      env: req.env,
      cloudsYamlOverride: req.cloudsYamlOverride,
    });
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, failureReason: 'invalid-config', configError: e, changes: false };
    throw redactError(e);
  }
  req.onLoaded?.(loaded);
  if (req.secrets?.sshPrivateKey) loaded.redactor.add(req.secrets.sshPrivateKey);
  if (req.command === 'validate') {
    req.log.info(`environment ${loaded.desired.name} is valid (${loaded.files.length} file(s))`);
    return { ok: true, changes: false, loaded };
  }

  const engine = new Engine({
    desired: loaded.desired,
    layers: (req.layers ?? defaultLayers)(loaded.desired),
    log: redactingLogger(req.log, loaded.redactor),
    redactor: loaded.redactor,
    secrets: req.secrets,
  });
  // What every changing command reports: the plan made before it acted and what it applied.
  const done = (r: RunResult): RunOutcome => ({
    ok: true,
    plan: r.plan,
    applied: r.applied,
    changes: hasChanges(r.plan),
    loaded,
    outputs: engine.outputs,
  });
  try {
    switch (req.command) {
      case 'plan': {
        const plan = await engine.plan();
        return { ok: true, plan, changes: hasChanges(plan), loaded, outputs: engine.outputs };
      }
      case 'apply':
        return done(await engine.apply({ expectedHash: req.expectedHash }));
      case 'drift':
        return done(await engine.drift({ reconcile: req.reconcile }));
      case 'destroy':
        return done(await engine.destroy());
      case 'restore':
        return done(await engine.restore(req.backup ?? 'latest'));
    }
  } catch (e) {
    const error = redactError(e, loaded.redactor);
    if (e instanceof PlanChangedError) {
      return {
        ok: false,
        failureReason: 'plan-changed',
        error,
        plan: e.actual,
        changes: hasChanges(e.actual),
        loaded,
        outputs: engine.outputs,
      };
    }
    if ((e as { failureReason?: FailureReason }).failureReason === 'locked') {
      return { ok: false, failureReason: 'locked', error, changes: false, loaded, outputs: engine.outputs };
    }
    return { ok: false, failureReason: 'apply-failed', error, changes: false, loaded, outputs: engine.outputs };
  } finally {
    await engine.close();
  }
}

export { Redactor };

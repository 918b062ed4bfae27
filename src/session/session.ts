/**
 * A run session sits between a face (CLI, action) and the engine. It loads
 * and validates the environment before anything else talks to a cloud or to
 * GitHub, applies the command policy (lock or not), runs one command, and
 * closes everything it opened on every exit path: the lock is released
 * first, while the tunnels it may need are still open, then tunnels,
 * sessions and temporary files. A session can stay open (port-forward).
 */
import { ConfigError } from '../config/errors.js';
import { loadEnvironment, type LoadedEnvironment } from '../config/load.js';
import { Cleanups } from '../engine/cleanups.js';
import { MissingSecretError } from '../engine/errors.js';
import { Engine, PlanChangedError, type Command, type RunResult } from '../engine/engine.js';
import type { AnyLayer, Logger, RunDirs, RunSecrets } from '../engine/types.js';
import { defaultLayers, type LayerFactory } from '../layers/index.js';
import { seedK3sOutputs } from '../layers/seed-k3s/outputs.js';
import { lockedLayers, RunLock, type LockPlaces } from '../lock/run-lock.js';
import type { LockState } from '../lock/types.js';
import { hasChanges } from '../plan/plan.js';
import { redactError, redactingLogger } from '../util/redact.js';
import type { InvalidConfig, RunOutcome } from './outcome.js';
import { commandPolicy, type CommandPolicy } from './policy.js';

export interface LockRequest {
  /** Who holds it: the run's URL in Actions, user@host and pid in a terminal. */
  holder: string;
  /** How long to wait for another holder before failing with `locked`. */
  timeoutSeconds: number;
  /** Without renewal (a killed run), the lock frees itself after this. */
  ttlSeconds?: number;
  /** Where the lock lives; default: a Neutron marker until the seed exists, then a Lease on the seed. */
  places?: LockPlaces;
  pollMs?: number;
  progressMs?: number;
  /** Told whenever the run starts or stops holding a lock (the action saves it for its post step). */
  onHeldChange?: (held: boolean) => void;
  /** Whether a holder is known to be gone before its lock expires (the CLI: a killed run on this machine). */
  abandoned?: (s: LockState) => boolean;
}

export interface SessionRequest {
  command: Command;
  environment: string;
  environmentsDir: string;
  log: Logger;
  /** Where the run may write; the face decides. */
  dirs: RunDirs;
  env?: Record<string, string | undefined>;
  cloudsYamlOverride?: string;
  secrets?: RunSecrets;
  /** Other values never to print (e.g. the GitHub token). */
  extraSecrets?: readonly (string | undefined)[];
  layers?: LayerFactory;
  /** Used when the command policy takes the lock. */
  lock?: LockRequest;
  /** drift: apply what drifted (and so hold the lock). */
  reconcile?: boolean;
  /** Called once the environment is loaded, e.g. to mask its secrets in logs. */
  onLoaded?: (loaded: LoadedEnvironment) => void;
}

export interface RunOptions {
  /** restore: the backup name or `latest`. */
  backup?: string;
  /** Changing commands: refuse to change anything unless the fresh plan has this hash (an approved plan). */
  expectedHash?: string;
  /** Only compute the plan this command would carry out (the CLI's confirmation); read-only, no lock. */
  preview?: boolean;
  /** Close the session if the process is told to stop (SIGINT, SIGTERM), then exit. */
  closeOnSignals?: boolean;
}

export type Opened = { ok: true; session: RunSession } | { ok: false; outcome: InvalidConfig };

/** Load and validate the environment; nothing outside the environment directory is touched. */
export function openSession(req: SessionRequest): Opened {
  let loaded: LoadedEnvironment;
  try {
    loaded = loadEnvironment({
      name: req.environment,
      environmentsDir: req.environmentsDir,
      env: req.env,
      cloudsYamlOverride: req.cloudsYamlOverride,
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      return { ok: false, outcome: { ok: false, failureReason: 'invalid-config', configError: e, changes: false } };
    }
    throw redactError(e);
  }
  if (req.secrets?.sshPrivateKey) loaded.redactor.add(req.secrets.sshPrivateKey);
  for (const s of req.extraSecrets ?? []) if (s) loaded.redactor.add(s);
  req.onLoaded?.(loaded);
  return { ok: true, session: new RunSession(req, loaded) };
}

/** Open, run one command, close: what a face does for everything but port-forward. */
export async function runCommand(req: SessionRequest, o: RunOptions = {}): Promise<RunOutcome> {
  const opened = openSession(req);
  if (!opened.ok) return opened.outcome;
  const session = opened.session;
  const stop = o.closeOnSignals ? closeOnSignals(() => session.close(), req.log) : undefined;
  try {
    return await session.run(o);
  } finally {
    await session.close();
    stop?.();
  }
}

class RunSession {
  readonly policy: CommandPolicy;
  private readonly cleanups = new Cleanups();
  private readonly log: Logger;
  private engine?: Promise<Engine>;
  private lock?: RunLock;
  private closing?: Promise<void>;

  constructor(
    private readonly req: SessionRequest,
    readonly loaded: LoadedEnvironment,
  ) {
    this.policy = commandPolicy(req.command, { reconcile: req.reconcile });
    this.log = redactingLogger(req.log, loaded.redactor);
  }

  /** What the lock was during the run ("Lease kube-system/... on the seed"), for summaries. */
  get lockHistory(): readonly string[] {
    return this.lock?.history ?? [];
  }

  private engineFor(layers?: (all: AnyLayer[]) => AnyLayer[]): Promise<Engine> {
    this.engine ??= (async () => {
      const all = await (this.req.layers ?? defaultLayers)(this.loaded.desired);
      return new Engine({
        desired: this.loaded.desired,
        layers: layers ? layers(all) : all,
        log: this.log,
        redactor: this.loaded.redactor,
        secrets: this.req.secrets,
        dirs: this.req.dirs,
        cleanups: this.cleanups,
      });
    })();
    return this.engine;
  }

  private async lockedEngine(): Promise<Engine> {
    const l = this.req.lock;
    if (!this.policy.takesLock || !l) return this.engineFor();
    const places = l.places ?? (await import('../lock/backends.js')).productionLockPlaces;
    const lock = new RunLock({
      holder: l.holder,
      ttlSeconds: l.ttlSeconds ?? 600,
      timeoutSeconds: l.timeoutSeconds,
      places,
      pollMs: l.pollMs,
      progressMs: l.progressMs,
      onHeldChange: l.onHeldChange,
      abandoned: l.abandoned,
    });
    this.lock = lock;
    return this.engineFor((all) => lockedLayers(all, lock));
  }

  /** Run the session's command once. Never throws for a failed run: the outcome says why. */
  async run(o: RunOptions = {}): Promise<RunOutcome> {
    const { loaded } = this;
    if (this.req.command === 'validate') {
      this.log.info(`environment ${loaded.desired.name} is valid (${loaded.files.length} file(s))`);
      return { ok: true, changes: false, loaded };
    }
    let engine: Engine | undefined;
    const done = (r: RunResult): RunOutcome => ({
      ok: true,
      plan: r.plan,
      applied: r.applied,
      changes: hasChanges(r.plan),
      loaded,
      outputs: engine?.outputs,
    });
    try {
      if (o.preview) {
        engine = await this.engineFor();
        const plan = this.req.command === 'destroy' ? (await engine.planDestroy()).plan : await engine.plan();
        return { ok: true, plan, changes: hasChanges(plan), loaded, outputs: engine.outputs };
      }
      engine = await this.lockedEngine();
      switch (this.req.command) {
        case 'plan': {
          const plan = await engine.plan();
          return { ok: true, plan, changes: hasChanges(plan), loaded, outputs: engine.outputs };
        }
        case 'apply':
          return done(await engine.apply({ expectedHash: o.expectedHash }));
        case 'drift':
          return done(await engine.drift({ reconcile: this.req.reconcile, expectedHash: o.expectedHash }));
        case 'destroy':
          return done(await engine.destroy({ expectedHash: o.expectedHash }));
        case 'restore':
          return done(await engine.restore(o.backup ?? 'latest', { expectedHash: o.expectedHash }));
      }
    } catch (e) {
      const error = redactError(e, loaded.redactor);
      const missingSecret = e instanceof MissingSecretError ? e.secret : undefined;
      const common = { ok: false as const, error, loaded, outputs: engine?.outputs, missingSecret };
      if (e instanceof PlanChangedError) {
        return { ...common, failureReason: 'plan-changed', plan: e.actual, changes: hasChanges(e.actual) };
      }
      if ((e as { failureReason?: string }).failureReason === 'locked') {
        return { ...common, failureReason: 'locked', changes: false };
      }
      return { ...common, failureReason: this.policy.changes ? 'apply-failed' : 'plan-failed', changes: false };
    }
  }

  /**
   * Give up a lock that a run of `holder` left behind (the action's post
   * step after a cancelled run): the seed's Lease, reached by observing the
   * seed layers read-only, then the OpenStack marker. Returns what was released.
   */
  async releaseLeftoverLock(holder: string, places?: LockPlaces): Promise<string[]> {
    const where = places ?? (await import('../lock/backends.js')).productionLockPlaces;
    const engine = await this.engineFor();
    const ctx = { desired: this.loaded.desired, log: this.log };
    const released: string[] = [];
    if (await engine.observeUntil((out) => Boolean(out.get(seedK3sOutputs)?.kubeconfig))) {
      const lease = where.onSeed(engine.outputs.get(seedK3sOutputs)!.kubeconfig, ctx);
      await lease.release(holder);
      released.push(lease.description);
    }
    const marker = where.preSeed(ctx);
    if (marker) {
      await marker.release(holder);
      released.push(marker.description);
    }
    return released;
  }

  /** Something to undo when the session closes (a port-forward's listener). */
  onClose(fn: () => Promise<void> | void): void {
    this.cleanups.add(fn);
  }

  /**
   * Release the lock while its connections are still open, then close
   * tunnels, sessions and temporary files (last opened first). Idempotent;
   * failures only warn, and the messages are redacted.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const warn = (m: string): void => this.log.warn(m);
      try {
        await this.lock?.release();
      } catch (e) {
        warn(`releasing the lock failed: ${redactError(e, this.loaded.redactor).message}`);
      }
      await this.cleanups.run(warn);
    })();
    return this.closing;
  }
}

/**
 * Close the session when the process is told to stop (a cancelled workflow
 * sends SIGINT, then SIGTERM), then exit with the signal's code. Returns a
 * function that removes the handlers.
 */
export function closeOnSignals(close: () => Promise<void>, log: Logger): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    log.warn(`${signal}: releasing the lock and closing connections before exiting`);
    void close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

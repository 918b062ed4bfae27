/**
 * Runs the registered layers for a command. Knows nothing of GitHub or of
 * any one cloud: layers bring their own boundaries.
 */
import { buildPlan, hasChanges, type Change, type Plan } from '../plan/plan.js';
import type { Redactor } from '../util/redact.js';
import type { Desired } from '../model/desired.js';
import type { AnyLayer, Facts, LayerContext, Logger, RunSecrets } from './types.js';

export type Command = 'validate' | 'plan' | 'apply' | 'drift' | 'destroy' | 'restore';
export const COMMANDS: readonly Command[] = ['validate', 'plan', 'apply', 'drift', 'destroy', 'restore'];

export interface EngineOptions {
  desired: Desired;
  layers: readonly AnyLayer[];
  log: Logger;
  redactor: Redactor;
  secrets?: RunSecrets;
}

export interface ApplyOptions {
  /** Refuse to change anything unless the fresh plan has this hash (an approved plan). */
  expectedHash?: string;
}

export class PlanChangedError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: Plan,
  ) {
    super(
      `the plan changed since it was approved: expected hash ${expected.slice(0, 12)}, got ${actual.hash.slice(0, 12)}`,
    );
    this.name = 'PlanChangedError';
  }
}

export interface RunResult {
  /** The plan computed before anything changed. */
  plan: Plan;
  /** What was applied (apply, destroy, restore). */
  applied: Change[];
}

export class Engine {
  private readonly cleanups: Array<() => Promise<void> | void> = [];
  private readonly ctx: LayerContext;

  constructor(private readonly opts: EngineOptions) {
    const facts: Facts = {};
    this.ctx = {
      desired: opts.desired,
      log: opts.log,
      facts,
      redactor: opts.redactor,
      secrets: opts.secrets ?? {},
      onCleanup: (fn) => this.cleanups.push(fn),
    };
  }

  get facts(): Facts {
    return this.ctx.facts;
  }

  private get layerNames(): string[] {
    return this.opts.layers.map((l) => l.name);
  }

  /** Observe every layer in order and diff: read-only. */
  async plan(): Promise<Plan> {
    const changes: Change[] = [];
    const notes: string[] = [];
    for (const layer of this.opts.layers) {
      await this.opts.log.group(`plan ${layer.name}`, async () => {
        const observed: unknown = await layer.observe(this.ctx);
        const d = layer.diff(this.opts.desired, observed);
        changes.push(...d.changes);
        notes.push(...(d.notes ?? []));
        const n = d.changes.filter((c) => c.action !== 'no-op').length;
        this.opts.log.info(`${layer.name}: ${n === 0 ? 'no changes' : `${n} change(s)`}`);
      });
    }
    return buildPlan({
      environment: this.opts.desired.name,
      layers: this.layerNames,
      changes,
      notes,
      redactor: this.opts.redactor,
    });
  }

  /**
   * Plan everything first (so an approved plan can be checked before any
   * change), then converge layer by layer, re-observing each layer right
   * before its apply because earlier layers may have changed what it sees.
   */
  async apply(o: ApplyOptions = {}): Promise<RunResult> {
    const plan = await this.plan();
    if (o.expectedHash !== undefined && o.expectedHash !== plan.hash) throw new PlanChangedError(o.expectedHash, plan);
    const applied = await this.converge();
    return { plan, applied };
  }

  private async converge(): Promise<Change[]> {
    const applied: Change[] = [];
    for (const layer of this.opts.layers) {
      await this.opts.log.group(`apply ${layer.name}`, async () => {
        const observed: unknown = await layer.observe(this.ctx);
        const { changes } = layer.diff(this.opts.desired, observed);
        const real = changes.filter((c) => c.action !== 'no-op');
        if (real.length === 0) {
          this.opts.log.info(`${layer.name}: already in the desired state`);
          return;
        }
        for (const c of real) this.opts.log.info(`${layer.name}: ${c.action} ${c.address}`);
        await layer.apply(real, observed, this.ctx);
        applied.push(...real);
      });
    }
    return applied;
  }

  /** Drift is a plan that is expected to be empty; `reconcile` applies it. */
  async drift(o: { reconcile?: boolean } = {}): Promise<RunResult> {
    const plan = await this.plan();
    if (!o.reconcile || !hasChanges(plan)) return { plan, applied: [] };
    return { plan, applied: await this.converge() };
  }

  /** Observe in order (later layers need earlier facts), then tear down in reverse. */
  async destroy(): Promise<RunResult> {
    const observed = new Map<string, unknown>();
    const changes: Change[] = [];
    for (const layer of this.opts.layers) {
      const o: unknown = await layer.observe(this.ctx);
      observed.set(layer.name, o);
      if (layer.diffDestroy) changes.push(...layer.diffDestroy(this.opts.desired, o).changes);
    }
    const plan = buildPlan({
      environment: this.opts.desired.name,
      layers: this.layerNames,
      changes,
      redactor: this.opts.redactor,
    });
    const applied: Change[] = [];
    for (const layer of [...this.opts.layers].reverse()) {
      if (!layer.diffDestroy) continue;
      await this.opts.log.group(`destroy ${layer.name}`, async () => {
        const o = observed.get(layer.name);
        const real = layer.diffDestroy!(this.opts.desired, o).changes.filter((c) => c.action !== 'no-op');
        if (real.length === 0) {
          this.opts.log.info(`${layer.name}: nothing to remove`);
          return;
        }
        await layer.apply(real, o, this.ctx);
        applied.push(...real);
      });
    }
    return { plan, applied };
  }

  /** Bring everything to the desired state, then let layers restore the backup. */
  async restore(backup: string): Promise<RunResult> {
    const result = await this.apply();
    const restorers = this.opts.layers.filter((l) => l.restore);
    if (restorers.length === 0) throw new Error('no layer can restore a backup in this configuration');
    for (const layer of restorers) {
      await this.opts.log.group(`restore ${layer.name}`, () => layer.restore!(backup, this.ctx));
    }
    return result;
  }

  /** Run every registered cleanup; failures are logged, never thrown. */
  async close(): Promise<void> {
    while (this.cleanups.length > 0) {
      const fn = this.cleanups.pop()!;
      try {
        await fn();
      } catch (e) {
        this.opts.log.warn(`cleanup failed: ${(e as Error).message}`);
      }
    }
  }
}

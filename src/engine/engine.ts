/**
 * Runs the registered layers for a command. Knows nothing of GitHub or of
 * any one cloud: layers bring their own boundaries.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlan, hasChanges, type Change, type Plan } from '../plan/plan.js';
import type { Redactor } from '../util/redact.js';
import type { Desired } from '../model/desired.js';
import { Cleanups } from './cleanups.js';
import { OutputStore, type Outputs } from './outputs.js';
import type { AnyLayer, LayerContext, Logger, RunDirs, RunSecrets } from './types.js';

export type Command = 'validate' | 'plan' | 'apply' | 'drift' | 'destroy' | 'restore';
export const COMMANDS: readonly Command[] = ['validate', 'plan', 'apply', 'drift', 'destroy', 'restore'];

export interface EngineOptions {
  desired: Desired;
  layers: readonly AnyLayer[];
  log: Logger;
  redactor: Redactor;
  secrets?: RunSecrets;
  /** Where layers may write; the run session passes the face's choice. Default: the OS temp dir and a cache in it. */
  dirs?: RunDirs;
  /** Where layers register what must be undone at the end; the run session passes its own. */
  cleanups?: Cleanups;
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

export class NoRestoreError extends Error {
  constructor(layers: readonly string[]) {
    super(`no layer in this run can restore a backup (layers: ${layers.join(', ')}); nothing was changed`);
    this.name = 'NoRestoreError';
  }
}

export interface RunResult {
  /** The plan computed before anything changed. */
  plan: Plan;
  /** What was applied (apply, destroy, restore). */
  applied: Change[];
}

export class Engine {
  private readonly store = new OutputStore();
  private readonly cleanups: Cleanups;
  private readonly contexts = new Map<AnyLayer, LayerContext>();
  /** What the latest plan observed, by layer (converge starts from it). */
  private readonly planned = new Map<AnyLayer, unknown>();

  constructor(private readonly opts: EngineOptions) {
    this.cleanups = opts.cleanups ?? new Cleanups();
    for (const layer of opts.layers) this.contexts.set(layer, this.contextFor(layer));
  }

  /** One context per layer, so a layer can publish its own record and no other. */
  private contextFor(layer: AnyLayer): LayerContext {
    return {
      desired: this.opts.desired,
      log: this.opts.log,
      outputs: this.store,
      publish: (key, value) => {
        if (key !== layer.outputs) {
          throw new Error(`layer ${layer.name} tried to publish ${key.name}, which it does not declare as its outputs`);
        }
        this.store.set(key, value);
      },
      redactor: this.opts.redactor,
      secrets: this.opts.secrets ?? {},
      dirs: this.opts.dirs ?? { temp: tmpdir(), toolCache: { kind: 'local', dir: join(tmpdir(), 'capi-mgmt-tools') } },
      onCleanup: (fn) => this.cleanups.add(fn),
    };
  }

  /** What the layers handed on in this run (e.g. kubeconfigs; they hold secrets). */
  get outputs(): Outputs {
    return this.store;
  }

  private ctx(layer: AnyLayer): LayerContext {
    return this.contexts.get(layer)!;
  }

  /** A layer's record always reflects its latest observe (or the apply after it). */
  private observe(layer: AnyLayer): Promise<unknown> {
    if (layer.outputs) this.store.clear(layer.outputs);
    return layer.observe(this.ctx(layer));
  }

  /**
   * Observe layers in order until `found` holds (e.g. the seed's API is
   * known), without planning: read-only. False when no layer got there.
   */
  async observeUntil(found: (outputs: Outputs) => boolean): Promise<boolean> {
    for (const layer of this.opts.layers) {
      if (found(this.store)) return true;
      await this.observe(layer);
    }
    return found(this.store);
  }

  private get layerNames(): string[] {
    return this.opts.layers.map((l) => l.name);
  }

  /** Observe every layer in order and diff: read-only. */
  async plan(): Promise<Plan> {
    const changes: Change[] = [];
    const notes: string[] = [];
    this.planned.clear();
    for (const layer of this.opts.layers) {
      await this.opts.log.group(`plan ${layer.name}`, async () => {
        const observed = await this.observe(layer);
        this.planned.set(layer, observed);
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

  /**
   * A layer is observed again only when an earlier layer changed something
   * in this converge: until then the plan's observation, moments old, is
   * what it would read again (the diff is pure, so the changes are the
   * plan's), and reading it twice only costs time.
   */
  private async converge(): Promise<Change[]> {
    const applied: Change[] = [];
    for (const layer of this.opts.layers) {
      await this.opts.log.group(`apply ${layer.name}`, async () => {
        const observed =
          applied.length === 0 && this.planned.has(layer) ? this.planned.get(layer) : await this.observe(layer);
        const { changes } = layer.diff(this.opts.desired, observed);
        const real = changes.filter((c) => c.action !== 'no-op');
        if (real.length === 0) {
          this.opts.log.info(`${layer.name}: already in the desired state`);
          return;
        }
        for (const c of real) this.opts.log.info(`${layer.name}: ${c.action} ${c.address}`);
        await layer.apply(real, observed, this.ctx(layer));
        applied.push(...real);
      });
    }
    return applied;
  }

  /** Drift is a plan that is expected to be empty; `reconcile` applies it (refusing, like apply, an unapproved plan). */
  async drift(o: ApplyOptions & { reconcile?: boolean } = {}): Promise<RunResult> {
    const plan = await this.plan();
    if (!o.reconcile || !hasChanges(plan)) return { plan, applied: [] };
    if (o.expectedHash !== undefined && o.expectedHash !== plan.hash) throw new PlanChangedError(o.expectedHash, plan);
    return { plan, applied: await this.converge() };
  }

  /**
   * What destroy would remove: observe in order (later layers need earlier
   * outputs), but only as far as the last layer that removes anything: the
   * layers after it (e.g. what runs on the seed, which goes with the seed)
   * have nothing to say about destroy. Read-only.
   */
  async planDestroy(): Promise<{ plan: Plan; observed: Map<string, unknown> }> {
    const observed = new Map<string, unknown>();
    const changes: Change[] = [];
    const last = this.opts.layers.findLastIndex((l) => l.diffDestroy !== undefined);
    for (const layer of this.opts.layers.slice(0, last + 1)) {
      const o = await this.observe(layer);
      observed.set(layer.name, o);
      if (layer.diffDestroy) changes.push(...layer.diffDestroy(this.opts.desired, o).changes);
    }
    const plan = buildPlan({
      environment: this.opts.desired.name,
      layers: this.layerNames,
      changes,
      redactor: this.opts.redactor,
    });
    return { plan, observed };
  }

  /** Tear down in reverse layer order what planDestroy found. */
  async destroy(o: ApplyOptions = {}): Promise<RunResult> {
    const { plan, observed } = await this.planDestroy();
    if (o.expectedHash !== undefined && o.expectedHash !== plan.hash) throw new PlanChangedError(o.expectedHash, plan);
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
        await layer.apply(real, o, this.ctx(layer));
        applied.push(...real);
      });
    }
    return { plan, applied };
  }

  /** Bring everything to the desired state, then let layers restore the backup. */
  async restore(backup: string, o: ApplyOptions = {}): Promise<RunResult> {
    const restorers = this.opts.layers.filter((l) => l.restore);
    // Before anything changes: converging first and then finding nothing to restore with would be a surprise.
    if (restorers.length === 0) throw new NoRestoreError(this.layerNames);
    const result = await this.apply(o);
    for (const layer of restorers) {
      await this.opts.log.group(`restore ${layer.name}`, () => layer.restore!(backup, this.ctx(layer)));
    }
    return result;
  }

  /** Run every registered cleanup; failures are logged, never thrown. */
  async close(): Promise<void> {
    await this.cleanups.run((m) => this.opts.log.warn(m));
  }
}

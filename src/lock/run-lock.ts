/**
 * The lock a changing run holds: first a marker on the OpenStack side
 * (there may be no seed yet), then, as soon as a layer has found or made
 * the seed's Kubernetes API, a Lease there, after which the marker is
 * dropped. Every run takes them in that order, so none waits on a lock
 * while another waits on one it holds.
 *
 * It is attached by wrapping the layers, so the engine needs no notion of
 * locks: each layer's observe/apply/restore first makes sure the lock is
 * held. The run session releases it, before it closes the tunnels the
 * Lease is reached through.
 */
import type { AnyLayer, LayerContext, Logger } from '../engine/types.js';
import type { Desired } from '../model/desired.js';
import { seedK3sOutputs } from '../layers/seed-k3s/outputs.js';
import { acquireLock, type HeldLock } from './acquire.js';
import type { LockBackend, LockState } from './types.js';

/** What a lock place needs to know about the run. */
export interface LockPlaceContext {
  desired: Desired;
  log: Logger;
}

export interface LockPlaces {
  /** The lock before the seed exists; undefined means none (no cloud to put it on). */
  preSeed: (ctx: LockPlaceContext) => LockBackend | undefined;
  /** The lock on the seed, given its kubeconfig. */
  onSeed: (seedKubeconfig: string, ctx: LockPlaceContext) => LockBackend;
}

export interface RunLockOptions {
  /** Who holds it: the run's URL, or user@host and pid. */
  holder: string;
  ttlSeconds: number;
  timeoutSeconds: number;
  places: LockPlaces;
  pollMs?: number;
  progressMs?: number;
  /** Told when the run starts or stops holding any lock. */
  onHeldChange?: (held: boolean) => void;
  /** Whether a holder is known to be gone before its lock expires. */
  abandoned?: (s: LockState) => boolean;
}

export class RunLock {
  private pre?: HeldLock;
  private seed?: HeldLock;
  private started = false;
  /** What was held during the run, for the job summary. */
  readonly history: string[] = [];

  constructor(private readonly o: RunLockOptions) {}

  private take(backend: LockBackend, ctx: LayerContext): Promise<HeldLock> {
    return acquireLock(backend, {
      holder: this.o.holder,
      ttlSeconds: this.o.ttlSeconds,
      timeoutSeconds: this.o.timeoutSeconds,
      pollMs: this.o.pollMs,
      progressMs: this.o.progressMs,
      abandoned: this.o.abandoned,
      log: (m) => ctx.log.info(m),
    });
  }

  async ensure(ctx: LayerContext): Promise<void> {
    if (!this.started) {
      this.started = true;
      const backend = this.o.places.preSeed(ctx);
      if (backend) {
        this.pre = await this.take(backend, ctx);
        this.history.push(this.pre.description);
        this.o.onHeldChange?.(true);
      }
    }
    const seedApi = ctx.outputs.get(seedK3sOutputs)?.kubeconfig;
    if (!this.seed && seedApi) {
      this.seed = await this.take(this.o.places.onSeed(seedApi, ctx), ctx);
      this.o.onHeldChange?.(true);
      this.history.push(this.seed.description);
      const pre = this.pre;
      this.pre = undefined;
      await pre?.release();
    }
  }

  /** Release whatever is held; safe to call more than once. */
  async release(): Promise<void> {
    const held = [this.seed, this.pre].filter((h) => h !== undefined);
    this.seed = this.pre = undefined;
    if (held.length === 0) return;
    try {
      for (const h of held) await h.release();
    } finally {
      this.o.onHeldChange?.(false);
    }
  }
}

/** The same layers, each step first making sure the run holds the lock. */
export function lockedLayers(layers: readonly AnyLayer[], lock: RunLock): AnyLayer[] {
  return layers.map((layer) => {
    const wrapped: AnyLayer = {
      name: layer.name,
      ...(layer.outputs ? { outputs: layer.outputs } : {}),
      observe: async (ctx) => {
        await lock.ensure(ctx);
        return layer.observe(ctx);
      },
      diff: (desired, observed) => layer.diff(desired, observed),
      apply: async (changes, observed, ctx) => {
        await lock.ensure(ctx);
        await layer.apply(changes, observed, ctx);
        // The seed may exist only now: move to its Lease before the next layer.
        await lock.ensure(ctx);
      },
    };
    if (layer.diffDestroy) wrapped.diffDestroy = (d, o) => layer.diffDestroy!(d, o);
    if (layer.restore) {
      wrapped.restore = async (backup, ctx) => {
        await lock.ensure(ctx);
        await layer.restore!(backup, ctx);
      };
    }
    return wrapped;
  });
}

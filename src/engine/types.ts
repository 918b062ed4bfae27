import type { Desired } from '../model/desired.js';
import type { Change, LayerName } from '../plan/plan.js';
import type { Redactor } from '../util/redact.js';

/** How the engine talks to people; the CLI and the action each provide one. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** A named phase: a log group in Actions, a heading in a terminal. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** How to reach the seed over SSH, as found by seed-infra (or overridden in config). */
export interface SeedEndpoint {
  host: string;
  port: number;
  user: string;
  jumpHost?: { host: string; port: number; user: string; hostKey?: string };
  hostKey?: string;
}

/**
 * What one layer hands to the next. A layer fills these in observe (when
 * the thing already exists) and in apply (once it has made it).
 */
export interface Facts {
  /** seed-infra: where the seed answers SSH. */
  seedEndpoint?: SeedEndpoint;
  /** seed-infra: ids the cluster layer reuses (network, keypair). */
  seedNetworkId?: string;
  seedKeypairName?: string;
  externalNetworkId?: string;
  /** seed-infra: the data volume's id, or null when the cloud has no block storage. */
  seedDataVolumeId?: string | null;
  /** seed-k3s: a kubeconfig (YAML text) reaching the seed's Kubernetes API for this run. */
  seedKubeconfig?: string;
  /** cluster: a kubeconfig for the management cluster. */
  mgmtKubeconfig?: string;
  /** The seed host key seen this run (trust on first use is recorded in the plan). */
  seedHostKey?: string;
}

/** Secrets given to the run outside the environment files (action inputs, CLI environment). */
export interface RunSecrets {
  sshPrivateKey?: string;
}

export interface LayerContext {
  desired: Desired;
  log: Logger;
  facts: Facts;
  redactor: Redactor;
  secrets: RunSecrets;
  /** Register cleanup to run when the command ends (tunnels, temp files). */
  onCleanup(fn: () => Promise<void> | void): void;
}

export interface LayerDiff {
  changes: Change[];
  notes?: string[];
}

/**
 * One layer of the system. `observe` reads only; `diff` is pure and is
 * tested without I/O; `apply` executes changes and must be safe to re-run
 * after a crash at any point.
 */
export interface Layer<Observed = unknown> {
  readonly name: LayerName;
  observe(ctx: LayerContext): Promise<Observed>;
  diff(desired: Desired, observed: Observed): LayerDiff;
  apply(changes: readonly Change[], observed: Observed, ctx: LayerContext): Promise<void>;
  /** Changes that remove everything this layer owns. */
  diffDestroy?(desired: Desired, observed: Observed): LayerDiff;
  /** Restore hook (the platform layer restores a Velero backup). */
  restore?(backup: string, ctx: LayerContext): Promise<void>;
}

/** A layer with its observed type erased, as the engine holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each layer has its own observed type; the engine only passes it back to the same layer
export type AnyLayer = Layer<any>;

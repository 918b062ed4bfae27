import type { Desired } from '../model/desired.js';
import type { Change, LayerName } from '../plan/plan.js';
import type { Redactor } from '../util/redact.js';
import type { ToolCacheChoice } from '../tools/index.js';
import type { OutputKey, Outputs } from './outputs.js';

/** How the engine talks to people; the CLI and the action each provide one. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** A named phase: a log group in Actions, a heading in a terminal. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Secrets given to the run outside the environment files; each face takes them its own way. */
export interface RunSecrets {
  sshPrivateKey?: string;
}

/** Where a run may write; the face chooses (the runner's directories in Actions). */
export interface RunDirs {
  /** Parent of the run's private temporary directories. */
  temp: string;
  /** Where downloaded tools are kept. */
  toolCache: ToolCacheChoice;
}

export interface LayerContext {
  desired: Desired;
  log: Logger;
  /** What earlier layers handed on (and this layer's own record). */
  outputs: Outputs;
  /** Hand this layer's outputs on; only the key the layer declares is accepted. */
  publish<T>(key: OutputKey<T>, value: T): void;
  redactor: Redactor;
  secrets: RunSecrets;
  dirs: RunDirs;
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
export interface Layer<Observed = unknown, Out = never> {
  readonly name: LayerName;
  /** The record this layer hands to later layers (declared in its own outputs module). */
  readonly outputs?: OutputKey<Out>;
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
export type AnyLayer = Layer<any, unknown>;

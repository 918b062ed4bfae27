/**
 * What each command may do, in one table both faces read: whether it
 * changes real resources, holds the environment's lock, hands on the
 * management cluster's kubeconfig, and needs a person's consent.
 */
import type { Command } from '../engine/engine.js';

export interface CommandPolicy {
  /** Changes real resources. */
  changes: boolean;
  /** Holds the environment's lock from its first read to its end. */
  takesLock: boolean;
  /** Produces the kubeconfig artifact when it succeeds. */
  producesKubeconfig: boolean;
  /** The CLI shows the plan and asks; `--yes` skips the question. */
  needsConfirmation: boolean;
  /** Removes or overwrites what exists: the action wants `confirm` = the environment name. */
  destructive: boolean;
}

const NONE: CommandPolicy = {
  changes: false,
  takesLock: false,
  producesKubeconfig: false,
  needsConfirmation: false,
  destructive: false,
};
const CONVERGE: CommandPolicy = {
  changes: true,
  takesLock: true,
  producesKubeconfig: true,
  needsConfirmation: true,
  destructive: false,
};

const TABLE: Record<Command, CommandPolicy> = {
  validate: NONE,
  plan: NONE,
  // drift only reads, unless told to reconcile: then it is an apply.
  drift: NONE,
  apply: CONVERGE,
  restore: { ...CONVERGE, destructive: true },
  destroy: { ...CONVERGE, producesKubeconfig: false, destructive: true },
};

export function commandPolicy(command: Command, o: { reconcile?: boolean } = {}): CommandPolicy {
  if (command === 'drift' && o.reconcile) return CONVERGE;
  return TABLE[command];
}

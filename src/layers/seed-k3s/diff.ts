/** seed-k3s diff: pure, from desired config and what observe saw. */
import type { Desired } from '../../model/desired.js';
import type { Change } from '../../plan/plan.js';
import type { LayerDiff } from '../../engine/types.js';
import { fingerprint } from '../../ssh/index.js';

const K3S_DATA_DIR = '/var/lib/rancher/k3s';

export interface SeedK3sObserved {
  /** False when there is no seed to reach yet (plan from desired alone). */
  reachable: boolean;
  /** The installed K3s version; undefined when K3s is not installed. */
  version?: string;
  /** The API answered through the tunnel. */
  healthy: boolean;
  /** What the bootstrap would change besides the binary (mount, unit, ...). */
  drift: string[];
  /** The seed host key seen, and whether it was trusted on first use. */
  hostKey?: string;
  trustedOnFirstUse?: boolean;
  /** Things observe could not check; shown as plan notes. */
  warnings?: string[];
}

function addressOf(desired: Desired): string {
  return `k3s/${desired.seedName}`;
}

function desiredK3s(desired: Desired): { version: string; dataDir: string; traefik: boolean } {
  return { version: desired.config.versions.k3s, dataDir: K3S_DATA_DIR, traefik: false };
}

export function diffSeedK3s(desired: Desired, observed: SeedK3sObserved): LayerDiff {
  const after = desiredK3s(desired);
  const base = { layer: 'seed-k3s', address: addressOf(desired), after } as const;
  const notes: string[] = [...(observed.warnings ?? [])];
  if (observed.hostKey && observed.trustedOnFirstUse) {
    notes.push(
      `seed host key trusted on first use: ${fingerprint(observed.hostKey)} (pin it with seed.ssh.hostKey: ${observed.hostKey})`,
    );
  }
  let change: Change;
  if (!observed.reachable) {
    change = { ...base, action: 'create', reason: 'the seed does not exist yet: install K3s once it is up' };
  } else if (!observed.version) {
    change = { ...base, action: 'create', reason: `install K3s ${after.version} on the seed` };
  } else {
    const before = { version: observed.version, dataDir: K3S_DATA_DIR, traefik: false };
    if (observed.version !== after.version) {
      change = {
        ...base,
        before,
        action: 'update',
        reason: `upgrade K3s from ${observed.version} to ${after.version}`,
      };
    } else if (observed.drift.length > 0) {
      change = { ...base, before, action: 'update', reason: `repair the seed: ${observed.drift.join(', ')}` };
    } else if (!observed.healthy) {
      change = { ...base, before, action: 'update', reason: 'the K3s API is not healthy: restart and wait for it' };
    } else {
      change = { ...base, before, action: 'no-op' };
    }
  }
  return { changes: [change], notes };
}

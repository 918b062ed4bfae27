/** Where and how to reach the seed over SSH: config overrides what seed-infra found. */
import type { Desired } from '../../model/desired.js';
import type { SeedInfraOutputs } from '../seed-infra/outputs.js';
import type { SshConnectOptions } from '../../ssh/index.js';

export type SeedTarget = Omit<SshConnectOptions, 'privateKey'>;

/**
 * `seed.ssh.address` (with `seed.ssh.port`) replaces the address seed-infra
 * reports; a configured host key or jump host wins over a reported one.
 * Undefined when neither names an address (the seed does not exist yet).
 */
export function seedTarget(desired: Desired, infra: SeedInfraOutputs | undefined): SeedTarget | undefined {
  const ssh = desired.config.seed.ssh;
  const found = infra?.endpoint;
  const host = ssh.address ?? found?.host;
  if (host === undefined) return undefined;
  const port = ssh.address !== undefined ? ssh.port : (found?.port ?? ssh.port);
  const hostKey = ssh.hostKey ?? found?.hostKey;
  const jump = ssh.jumpHost ?? found?.jumpHost;
  return {
    host,
    port,
    user: ssh.user,
    ...(hostKey ? { hostKey } : {}),
    ...(jump
      ? {
          jumpHost: {
            host: jump.host,
            port: jump.port,
            user: jump.user,
            ...(jump.hostKey ? { hostKey: jump.hostKey } : {}),
          },
        }
      : {}),
  };
}

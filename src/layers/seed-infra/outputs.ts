/** What seed-infra hands to later layers: where the seed answers SSH, and the ids they reuse. */
import { outputKey } from '../../engine/outputs.js';
import type { Desired } from '../../model/desired.js';
import type { FloatingIp, Port, Server } from '../../openstack/types.js';

/** How to reach the seed over SSH, as found by seed-infra (or named in config). */
interface SeedEndpoint {
  host: string;
  port: number;
  user: string;
  jumpHost?: { host: string; port: number; user: string; hostKey?: string };
  hostKey?: string;
}

/** The seed's data volume, as far as seed-infra knows it this run. */
export type SeedDataVolume =
  | { state: 'created'; id: string }
  /** Not made yet: seed-infra's apply will create it. */
  | { state: 'not-created' }
  /** The cloud has no block storage: K3s keeps its state on the root disk. */
  | { state: 'no-block-storage' };

export interface SeedInfraOutputs {
  /** Absent while there is no server, unless `seed.ssh.address` names the host outright. */
  endpoint?: SeedEndpoint;
  /** The seed network, router-connected; absent before it exists. */
  networkId?: string;
  /** The Nova keypair holding the seed's public key; absent before it exists. */
  keypairName?: string;
  externalNetworkId?: string;
  /** The seed's flavor as resolved (`seed.flavor: auto` picks one): the cluster's default flavor. */
  flavorName?: string;
  dataVolume: SeedDataVolume;
}

export const seedInfraOutputs = outputKey<SeedInfraOutputs>('seed-infra');

export interface OutputSources {
  server?: Server;
  serverPorts: Port[];
  floatingIp?: FloatingIp;
  networkId?: string;
  keypairName?: string;
  externalNetworkId?: string;
  flavorName?: string;
  dataVolume: SeedDataVolume;
}

/**
 * The SSH host: the configured override wins (`seed.ssh.address`), then the
 * floating IP (allocated or fixed), then the server's address on the seed network.
 */
function seedHost(desired: Desired, s: OutputSources): string | undefined {
  const seed = desired.config.seed;
  if (seed.ssh.address) return seed.ssh.address;
  if (seed.floatingIp.mode === 'fixed') return seed.floatingIp.address;
  if (seed.floatingIp.mode === 'allocate' && s.floatingIp) return s.floatingIp.address;
  if (!s.server) return undefined;
  const onNet = s.serverPorts.find((p) => p.networkId === s.networkId) ?? s.serverPorts[0];
  const fromPort = onNet?.fixedIps.find((f) => !f.ipAddress.includes(':'))?.ipAddress ?? onNet?.fixedIps[0]?.ipAddress;
  if (fromPort) return fromPort;
  for (const list of Object.values(s.server.addresses)) {
    const a = list.find((x) => x.type === 'fixed');
    if (a) return a.addr;
  }
  return undefined;
}

export function outputsOf(desired: Desired, s: OutputSources): SeedInfraOutputs {
  const ssh = desired.config.seed.ssh;
  const out: SeedInfraOutputs = { dataVolume: s.dataVolume };
  if (s.networkId) out.networkId = s.networkId;
  if (s.keypairName) out.keypairName = s.keypairName;
  if (s.externalNetworkId) out.externalNetworkId = s.externalNetworkId;
  if (s.flavorName) out.flavorName = s.flavorName;
  // Without a server there is nothing to reach, unless the config names the address outright.
  const host = s.server || ssh.address ? seedHost(desired, s) : undefined;
  if (host) {
    const endpoint: SeedEndpoint = { host, port: ssh.port, user: ssh.user };
    if (ssh.hostKey) endpoint.hostKey = ssh.hostKey;
    if (ssh.jumpHost) {
      endpoint.jumpHost = { host: ssh.jumpHost.host, port: ssh.jumpHost.port, user: ssh.jumpHost.user };
      if (ssh.jumpHost.hostKey) endpoint.jumpHost.hostKey = ssh.jumpHost.hostKey;
    }
    out.endpoint = endpoint;
  }
  return out;
}

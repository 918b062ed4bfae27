/** What seed-infra tells later layers: where the seed answers SSH, and ids they reuse. */
import type { Desired } from '../../model/desired.js';
import type { Facts, SeedEndpoint } from '../../engine/types.js';
import type { FloatingIp, Port, Server } from '../../openstack/types.js';

export interface FactSources {
  server?: Server;
  serverPorts: Port[];
  floatingIp?: FloatingIp;
  networkId?: string;
  keypairName?: string;
  externalNetworkId?: string;
  /** The data volume's id; null when the cloud has no block storage (K3s then keeps its state on the root disk). */
  volumeId?: string | null;
}

/**
 * The SSH host: the configured override wins (`seed.ssh.address`), then the
 * floating IP (allocated or fixed), then the server's address on the seed network.
 */
export function seedHost(desired: Desired, s: FactSources): string | undefined {
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

export function seedFacts(desired: Desired, s: FactSources): Partial<Facts> {
  const ssh = desired.config.seed.ssh;
  const out: Partial<Facts> = {};
  if (s.volumeId !== undefined) out.seedDataVolumeId = s.volumeId;
  if (s.networkId) out.seedNetworkId = s.networkId;
  if (s.keypairName) out.seedKeypairName = s.keypairName;
  if (s.externalNetworkId) out.externalNetworkId = s.externalNetworkId;
  // Without a server there is nothing to reach, unless the config names the address outright.
  const host = s.server || ssh.address ? seedHost(desired, s) : undefined;
  if (host) {
    const endpoint: SeedEndpoint = { host, port: ssh.port, user: ssh.user };
    if (ssh.hostKey) endpoint.hostKey = ssh.hostKey;
    if (ssh.jumpHost) {
      endpoint.jumpHost = { host: ssh.jumpHost.host, port: ssh.jumpHost.port, user: ssh.jumpHost.user };
      if (ssh.jumpHost.hostKey) endpoint.jumpHost.hostKey = ssh.jumpHost.hostKey;
    }
    out.seedEndpoint = endpoint;
  }
  return out;
}

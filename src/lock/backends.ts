/** The production lock places: Neutron markers through src/openstack, a Lease on the seed. */
import { readCloudsYaml } from '../config/load.js';
import type { LayerContext } from '../engine/types.js';
import { parseCloud } from '../openstack/cloud-config.js';
import { NeutronApi } from '../openstack/network.js';
import { Session } from '../openstack/session.js';
import { LeaseLock } from './lease.js';
import { OpenStackMarkerLock } from './openstack-marker.js';
import type { LockBackend } from './types.js';

export const lockName = (environment: string): string => `capi-mgmt-${environment}-lock`;

export function openStackLock(ctx: LayerContext): LockBackend {
  const os = ctx.desired.config.openstack;
  const cloud = parseCloud(readCloudsYaml(ctx.desired), os.cloud, { baseDir: ctx.desired.dir, caBundle: os.caBundle });
  const neutron = new NeutronApi(new Session(cloud, { log: (m) => ctx.log.debug(m) }));
  return new OpenStackMarkerLock(neutron, lockName(ctx.desired.name));
}

export function seedLease(seedKubeconfig: string, ctx: LayerContext): LockBackend {
  return new LeaseLock(seedKubeconfig, lockName(ctx.desired.name));
}

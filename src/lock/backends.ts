/** The production lock places: Neutron markers through src/openstack, a Lease on the seed. */
import type { LayerContext } from '../engine/types.js';
import { runSession } from '../openstack/connection.js';
import { NeutronApi } from '../openstack/network.js';
import { LeaseLock } from './lease.js';
import { OpenStackMarkerLock } from './openstack-marker.js';
import type { LockBackend } from './types.js';

export const lockName = (environment: string): string => `capi-mgmt-${environment}-lock`;

export function openStackLock(ctx: LayerContext): LockBackend {
  // The run's session: the lock and seed-infra share one Keystone login.
  const session = runSession(ctx.desired.config.openstack, ctx.desired.dir, { log: (m) => ctx.log.debug(m) });
  const neutron = new NeutronApi(session);
  return new OpenStackMarkerLock(neutron, lockName(ctx.desired.name));
}

export function seedLease(seedKubeconfig: string, ctx: LayerContext): LockBackend {
  return new LeaseLock(seedKubeconfig, lockName(ctx.desired.name));
}

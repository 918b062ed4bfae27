/** The production lock places: Neutron markers through src/openstack, a Lease on the seed. */
import { runSession } from '../openstack/connection.js';
import { NeutronApi } from '../openstack/network.js';
import { LeaseLock } from './lease.js';
import { OpenStackMarkerLock } from './openstack-marker.js';
import type { LockPlaceContext, LockPlaces } from './run-lock.js';
import type { LockBackend } from './types.js';

export const lockName = (environment: string): string => `capi-mgmt-${environment}-lock`;

function openStackLock(ctx: LockPlaceContext): LockBackend {
  // The run's session: the lock and seed-infra share one Keystone login.
  const session = runSession(ctx.desired.config.openstack, ctx.desired.dir, { log: (m) => ctx.log.debug(m) });
  const neutron = new NeutronApi(session);
  return new OpenStackMarkerLock(neutron, lockName(ctx.desired.name));
}

function seedLease(seedKubeconfig: string, ctx: LockPlaceContext): LockBackend {
  return new LeaseLock(seedKubeconfig, lockName(ctx.desired.name));
}

/** Where changing runs lock an environment: a Neutron marker until the seed exists, then a Lease on the seed. */
export const productionLockPlaces: LockPlaces = { preSeed: openStackLock, onSeed: seedLease };

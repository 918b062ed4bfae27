/** The lock places against the lab: a Lease on the `seed` Kubernetes, markers on the lab OpenStack. */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { LeaseLock } from '../../src/lock/lease.js';
import { OpenStackMarkerLock } from '../../src/lock/openstack-marker.js';
import { labKube, labNeutron } from '../helpers/action-lab.js';

const name = `capi-mgmt-lt-${randomBytes(3).toString('hex')}-lock`;
const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name, namespace: 'kube-system' };

afterAll(async () => {
  await labKube().delete(leaseRef);
  const neutron = labNeutron();
  for (const g of await neutron.listSecurityGroups({ name })) await neutron.deleteSecurityGroup(g.id);
});

describe('LeaseLock on the lab Kubernetes', () => {
  it('lets exactly one of two racers win, renews, hands over on release', async () => {
    const lock = new LeaseLock(labKube(), name);
    const [a, b] = await Promise.all([lock.tryAcquire('https://run/A', 30), lock.tryAcquire('https://run/B', 30)]);
    expect([a.ok, b.ok].filter(Boolean)).toHaveLength(1);
    const winner = a.ok ? 'https://run/A' : 'https://run/B';
    const loser = a.ok ? b : a;
    expect(!loser.ok && loser.current.holder).toBe(winner);
    await lock.renew(winner, 30);
    const lease = (await labKube().get(leaseRef)) as unknown as {
      spec: { holderIdentity: string; leaseDurationSeconds: number; renewTime: string };
    };
    expect(lease.spec).toMatchObject({ holderIdentity: winner, leaseDurationSeconds: 30 });
    expect(lease.spec.renewTime).toMatch(/\.\d{6}Z$/);
    await lock.release('https://run/C'); // not the holder: nothing happens
    expect((await lock.tryAcquire('https://run/C', 30)).ok).toBe(false);
    await lock.release(winner);
    expect(await lock.tryAcquire('https://run/C', 30)).toEqual({ ok: true });
    await expect(lock.renew(winner, 30)).rejects.toThrow('was taken over by https://run/C');
    await lock.release('https://run/C');
  });

  it('takes over a lease whose holder stopped renewing', async () => {
    const lock = new LeaseLock(labKube(), name);
    expect((await lock.tryAcquire('https://run/crashed', 1)).ok).toBe(true);
    expect((await lock.tryAcquire('https://run/next', 30)).ok).toBe(false);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await lock.tryAcquire('https://run/next', 30)).toEqual({ ok: true });
    await lock.release('https://run/next');
  });
});

describe('OpenStackMarkerLock on the lab OpenStack', () => {
  it('holds, refuses others, renews and releases through Neutron security groups', async () => {
    const neutron = labNeutron();
    const lock = new OpenStackMarkerLock(neutron, name);
    expect(await lock.tryAcquire('https://run/A', 30)).toEqual({ ok: true });
    const other = await lock.tryAcquire('https://run/B', 30);
    expect(!other.ok && other.current.holder).toBe('https://run/A');
    await lock.renew('https://run/A', 30);
    const groups = await neutron.listSecurityGroups({ name });
    expect(groups).toHaveLength(1);
    expect(groups[0]!.description).toMatch(/^capi-mgmt lock \{"holder":"https:\/\/run\/A","expiresAt":"/);
    await lock.release('https://run/A');
    expect(await neutron.listSecurityGroups({ name })).toEqual([]);
  });
});

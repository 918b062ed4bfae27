/** Pre-flight checks of the cluster layer against the in-memory OpenStack (the real REST client on top). */
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { FakeOpenStack, type FakeOpenStackOptions } from '../fakes/openstack.js';
import { testDesired } from '../helpers/desired.js';
import { clusterValues, type SeedFacts } from '../../src/layers/cluster/values.js';
import { preflight, PreflightError } from '../../src/layers/cluster/preflight.js';

const CLOUD = { entry: { auth: { auth_url: 'https://keystone.fake.test/v3' } }, projectId: 'p' };
const SEED: SeedFacts = { networkId: 'n', keypairName: 'k', flavorName: 'm1.small' };

/** Small and LB-free unless told otherwise: 1 + 1 control plane, 1 + 1 workers on m1.small. */
function setup(cluster: Record<string, unknown> = {}, o: FakeOpenStackOptions = {}, seed = SEED) {
  const fake = new FakeOpenStack(o);
  fake.images.push({ id: randomUUID(), name: 'kube-v1.33.10', status: 'active' });
  const desired = testDesired('test', {
    cluster: {
      machineImage: { name: 'kube-v1.33.10' },
      controlPlane: { count: 1 },
      workers: { count: 1 },
      apiServer: { loadBalancer: false },
      ...cluster,
    },
  });
  const { values } = clusterValues(desired, seed, CLOUD);
  return { fake, run: () => preflight(fake.client(), desired, values) };
}

async function problems(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PreflightError) return e.problems;
    throw e;
  }
  throw new Error('pre-flight passed, expected it to fail');
}

function addServer(fake: FakeOpenStack, name: string, flavor: { vcpus: number; ram: number }, bootFromVolume = false) {
  const id = randomUUID();
  fake.servers.set(id, {
    id,
    name,
    status: 'ACTIVE',
    tags: [],
    metadata: {},
    flavor: { original_name: 'x', ...flavor, disk: 20 },
    image: bootFromVolume ? '' : { id: 'img' },
    addresses: {},
  });
}

describe('cluster pre-flight', () => {
  it('passes for a fitting config and says what it checked', async () => {
    const { run, fake } = setup();
    const r = await run();
    expect(r.demand).toEqual({
      instances: 4,
      cores: 4,
      ramMb: 8192,
      volumes: 0,
      gigabytes: 0,
      floatingIps: 1,
      loadBalancers: 0,
    });
    expect(r.summary).toBe(
      'pre-flight: image and flavors found; quota covers the peak of 4 instances, 4 vCPUs, 8 GB RAM, 1 floating IP',
    );
    // Read-only.
    expect(fake.writes()).toEqual([]);
  });

  it('a missing image and flavors: every problem at once, each naming its setting', async () => {
    const { run } = setup({
      machineImage: { name: 'kube-v1.33.1' },
      controlPlane: { count: 1, flavor: 'm1.smal' },
      workers: { count: 1, flavor: 'nope' },
    });
    expect(await problems(run())).toEqual([
      'cluster.machineImage: image "kube-v1.33.1" not found in Glance; closest: "kube-v1.33.10", "ubuntu"',
      'cluster.controlPlane.flavor: flavor "m1.smal" (control plane) not found; closest: "m1.small", "m1.large", "c1.large"',
      'cluster.workers.flavor: flavor "nope" (node group md-0) not found; closest: "c1.large", "m1.large", "m1.small"',
    ]);
  });

  it('the default flavors name where they come from', async () => {
    const { run } = setup({}, {}, { ...SEED, flavorName: 'gone' });
    const p = await problems(run());
    expect(p[0]).toMatch(/^cluster\.controlPlane\.flavor \(the seed flavor by default\): flavor "gone"/);
    expect(p[1]).toMatch(/^cluster\.workers\.flavor \(the control plane flavor by default\): flavor "gone"/);
  });

  it('an image by id, and an image that is not usable', async () => {
    const missing = setup({ machineImage: { id: 'no-such-id' } });
    expect(await problems(missing.run())).toEqual(['cluster.machineImage: image id "no-such-id" not found in Glance']);

    const dup = setup();
    dup.fake.images.push({ id: 'second', name: 'kube-v1.33.10', status: 'active' });
    expect((await problems(dup.run()))[0]).toMatch(
      /^cluster\.machineImage: 2 active images are named "kube-v1\.33\.10" .* give its id$/,
    );

    const queued = setup();
    queued.fake.images.find((i) => i.name === 'kube-v1.33.10')!.status = 'queued';
    expect(await problems(queued.run())).toEqual([
      'cluster.machineImage: image "kube-v1.33.10" exists but is queued, not active',
    ]);
  });

  it('over quota: instances, cores and RAM, counting the surge, naming the counts', async () => {
    const { run, fake } = setup({
      controlPlane: { count: 3, flavor: 'm1.large' },
      workers: { count: 3, maxSurge: 2 },
    });
    fake.quotas.instances = 8;
    const p = await problems(run());
    expect(p).toHaveLength(3);
    // 3 + 1 control plane, 3 + 2 workers = 9 instances of 4 vCPU, 8 GB.
    expect(p[0]).toBe(
      "control plane 3 + 1 surge, node group md-0 3 + 2 surge (cluster.controlPlane.count, cluster.workers.count, and their rollout surge): the cluster needs 9 instances at its peak, but the project's quota leaves 8 (limit 8, 0 in use)",
    );
    expect(p[1]).toMatch(/needs 36 vCPUs at its peak, but the project's quota leaves 20 \(limit 20, 0 in use\)$/);
    expect(p[1]).toContain(
      'on m1.large (cluster.controlPlane.flavor), m1.large (cluster.workers.flavor (the control plane flavor by default))',
    );
    expect(p[2]).toMatch(/needs 73728 MB RAM at its peak, but the project's quota leaves 51200 MB/);
  });

  it("usage by others reduces what is free; this cluster's own machines count as available (a re-run)", async () => {
    const { run, fake } = setup({ controlPlane: { count: 3 }, workers: { count: 3 } });
    fake.quotas.instances = 9;
    addServer(fake, 'someone-else', { vcpus: 1, ram: 2048 });
    // The seed is named after the cluster too, but is no machine of it.
    addServer(fake, 'capi-mgmt-test-seed', { vcpus: 4, ram: 8192 });
    // 3 + 1 + 3 + 1 = 8 needed, 9 - 2 = 7 free.
    expect((await problems(run()))[0]).toMatch(
      /needs 8 instances at its peak, but the project's quota leaves 7 \(limit 9, 2 in use\)$/,
    );

    for (let i = 0; i < 3; i++) addServer(fake, `capi-mgmt-test-control-plane-x${i}`, { vcpus: 1, ram: 2048 });
    for (let i = 0; i < 3; i++) addServer(fake, `capi-mgmt-test-md-0-abc-y${i}`, { vcpus: 1, ram: 2048 });
    // Now 8 in use, 6 of them this cluster's: 9 - 8 + 6 = 7 free... still one short.
    expect((await problems(run()))[0]).toMatch(/leaves 7 \(limit 9, 8 in use, 6 of them this cluster's\)$/);
    fake.quotas.instances = 10;
    const r = await run();
    expect(r.owned).toMatchObject({ instances: 6, cores: 6, ramMb: 6 * 2048 });
    expect(r.summary).toMatch(/\(6 machines already this cluster's\)$/);
  });

  it('root volumes: the volume count and size at the peak, and a cloud without Cinder', async () => {
    const cluster = {
      controlPlane: { count: 1, rootVolume: { size: 100 } },
      workers: { count: 1, rootVolume: { size: 50 } },
    };
    const { run, fake } = setup(cluster);
    fake.quotas.gigabytes = 250;
    // (1 + 1) x 100 + (1 + 1) x 50 = 300 GB in 4 volumes.
    expect(await problems(run())).toEqual([
      "cluster.controlPlane.rootVolume / cluster.workers.rootVolume with control plane 1 + 1 surge, node group md-0 1 + 1 surge (cluster.controlPlane.count, cluster.workers.count, and their rollout surge): the cluster needs 300 GB of volumes at its peak, but the project's quota leaves 250 GB (limit 250 GB, 0 GB in use)",
    ]);
    fake.quotas.gigabytes = 300;
    expect((await run()).demand).toMatchObject({ volumes: 4, gigabytes: 300 });
    // A re-run: its booted-from-volume machines hold their root volumes already.
    fake.quotas.gigabytes = 250;
    addServer(fake, 'capi-mgmt-test-control-plane-a1', { vcpus: 1, ram: 2048 }, true);
    expect((await run()).owned).toMatchObject({ instances: 1, volumes: 1, gigabytes: 100 });

    const none = setup(cluster, { blockStorage: false });
    expect(await problems(none.run())).toEqual([
      'cluster.controlPlane.rootVolume / cluster.workers.rootVolume: the cloud has no block-storage service (Cinder) for root volumes; remove the root volume settings',
    ]);
  });

  it('the load balancer: needs Octavia, and its quota unless this cluster has its load balancer already', async () => {
    const noOctavia = setup({ apiServer: { loadBalancer: true } });
    expect(await problems(noOctavia.run())).toEqual([
      'cluster.apiServer.loadBalancer: the cloud has no load-balancer service (Octavia) in its catalog; set cluster.apiServer.loadBalancer: false',
    ]);

    const { run, fake } = setup({ apiServer: { loadBalancer: true } }, { loadBalancer: true });
    fake.quotas.loadBalancers = 1;
    fake.loadBalancers.push({ id: 'lb1', name: 'other', project_id: 'b1f0c3a2d4e5466f8a9b0c1d2e3f4a5b' });
    expect(await problems(run())).toEqual([
      "cluster.apiServer.loadBalancer: the cluster needs 1 load balancer at its peak, but the project's quota leaves 0 (limit 1, 1 in use)",
    ]);
    fake.loadBalancers[0]!.name = 'k8s-clusterapi-cluster-default-capi-mgmt-test-kubeapi';
    const r = await run();
    expect(r.owned.loadBalancers).toBe(1);
    expect(r.owned.floatingIps).toBe(1);
    expect(r.summary).toMatch(/1 floating IP, 1 load balancer$/);
  });

  it('floating IPs: quota details, or counted without the extension; none needed without one', async () => {
    const { run, fake } = setup();
    fake.quotas.floatingIps = 0;
    expect(await problems(run())).toEqual([
      "cluster.apiServer.floatingIp: the cluster needs 1 floating IP at its peak, but the project's quota leaves 0 (limit 0, 0 in use)",
    ]);
    fake.noQuotaDetails = true;
    fake.quotas.floatingIps = 1;
    await run();
    expect(fake.count('GET', /^\/quotas\/[^/]+$/)).toBe(1);

    const off = setup({ apiServer: { loadBalancer: false, floatingIp: false } });
    off.fake.quotas.floatingIps = 0;
    expect((await off.run()).demand.floatingIps).toBe(0);
  });

  it('what cluster.values overrides is what is checked, named as such', async () => {
    const { run } = setup({
      values: {
        controlPlane: { machineFlavor: 'xx.large', rolloutStrategy: { rollingUpdate: { maxSurge: '100%' } } },
        nodeGroups: [
          { name: 'md-0', machineCount: 1 },
          { name: 'gpu', machineCount: 2, machineFlavor: 'g1.huge' },
        ],
        nodeGroupDefaults: { machineImageId: 'missing-id' },
      },
    });
    expect(await problems(run())).toEqual([
      'cluster.values.nodeGroupDefaults.machineImageId: image id "missing-id" not found in Glance',
      'cluster.values.controlPlane.machineFlavor: flavor "xx.large" (control plane) not found; closest: "c1.large", "m1.large", "m1.small"',
      'cluster.values.nodeGroups[1].machineFlavor: flavor "g1.huge" (node group gpu) not found; closest: "c1.large", "m1.large", "m1.small"',
    ]);
  });

  it('a percentage surge rounds up; an unknown seed flavor skips the size checks', async () => {
    const pct = setup({
      controlPlane: { count: 3 },
      values: { controlPlane: { rolloutStrategy: { rollingUpdate: { maxSurge: '50%' } } } },
    });
    expect((await pct.run()).demand.instances).toBe(3 + 2 + 1 + 1);

    const early = setup({}, {}, { keypairName: 'k' });
    const r = await early.run();
    expect(r.demand).toMatchObject({ instances: 4, cores: 0, ramMb: 0 });
    expect(r.summary).toBe(
      'pre-flight: image found (flavors checked once the seed exists); quota covers the peak of 4 instances, 1 floating IP',
    );
  });
});

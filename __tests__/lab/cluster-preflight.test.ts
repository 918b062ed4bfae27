/**
 * The cluster layer's pre-flight checks against the lab's real Glance, Nova,
 * Neutron and Cinder (and its missing Octavia), with chart values built from
 * the lab's own clouds.yaml entry and the project its token is scoped to.
 */
import { describe, expect, it } from 'vitest';
import { testDesired } from '../helpers/desired.js';
import { LAB_CLOUDS, labClient } from '../helpers/seed-infra-lab.js';
import { labFile } from '../helpers/lab-parts.js';
import { clusterValues } from '../../src/layers/cluster/values.js';
import { preflight, PreflightError } from '../../src/layers/cluster/preflight.js';
import { cloudEntry } from '../../src/openstack/connection.js';
import path from 'node:path';

const client = () => labClient('lab');

async function run(cluster: Record<string, unknown>) {
  const c = client();
  const settings = { cloud: 'lab', cloudsYamlFile: path.basename(labFile('openstack', LAB_CLOUDS)) };
  const cloud = {
    entry: cloudEntry(settings, path.dirname(LAB_CLOUDS)),
    projectId: (await c.session.projectId()) ?? '',
  };
  const desired = testDesired('pf', {
    cluster: {
      machineImage: { name: 'fake-image' },
      controlPlane: { count: 1, flavor: 'm1.small' },
      workers: { count: 1 },
      apiServer: { loadBalancer: false },
      ...cluster,
    },
  });
  const { values } = clusterValues(desired, { networkId: 'n', keypairName: 'k', flavorName: 'm1.large' }, cloud);
  return { values, result: preflight(c, desired, values) };
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

describe('cluster pre-flight on the lab', () => {
  it('reads the real limits: Nova, Cinder and Neutron quotas of the project', async () => {
    const c = client();
    const compute = await c.computeLimits();
    expect(compute.instances.limit).toBeGreaterThan(0);
    expect(compute.cores.limit).toBeGreaterThan(0);
    expect(compute.ramMb.limit).toBeGreaterThan(0);
    expect(compute.instances.used).toBe((await c.listServersByPrefix('')).length);
    const volumes = await c.volumeLimits();
    expect(volumes.volumes.limit).toBeGreaterThan(0);
    expect(volumes.gigabytes.limit).toBeGreaterThan(0);
    const fip = await c.floatingIpQuota();
    expect(fip.limit).toBeGreaterThan(0);
    expect(fip.used).toBe((await c.listFloatingIps({})).length);
    expect(await c.hasService('load-balancer')).toBe(false);
  });

  it('passes for a fitting config, with values from the lab clouds.yaml entry', async () => {
    const c = client();
    const { instances, cores } = await c.computeLimits();
    const freeInstances = instances.limit - instances.used;
    expect(freeInstances, `the lab project has only ${freeInstances} instances free`).toBeGreaterThanOrEqual(4);
    expect(cores.limit - cores.used, 'the lab project has too few vCPUs free').toBeGreaterThanOrEqual(4);
    const { values, result } = await run({});
    const auth = (values.clouds as { openstack: { auth: Record<string, unknown> } }).openstack.auth;
    expect(auth.project_id).toBe(await c.session.projectId());
    expect(typeof auth.auth_url).toBe('string');
    const r = await result;
    expect(r.demand).toMatchObject({ instances: 4, cores: 4, ramMb: 8192, floatingIps: 1, loadBalancers: 0 });
    expect(r.summary).toMatch(/^pre-flight: image and flavors found; quota covers the peak of 4 instances/);
  });

  it('names the setting of a missing image and a missing flavor', async () => {
    const { result } = await run({
      machineImage: { name: 'fake-imag' },
      controlPlane: { count: 1, flavor: 'm1.smal' },
    });
    expect(await problems(result)).toEqual([
      expect.stringMatching(/^cluster\.machineImage: image "fake-imag" not found in Glance; closest: "fake-image"/),
      expect.stringMatching(
        /^cluster\.controlPlane\.flavor: flavor "m1\.smal" \(control plane\) not found; closest: "m1\.small"/,
      ),
      expect.stringMatching(/^cluster\.workers\.flavor \(the control plane flavor by default\): flavor "m1\.smal"/),
    ]);
  });

  it('fails an over-quota count with the counts named, and the load balancer without Octavia', async () => {
    const { instances } = await client().computeLimits();
    expect(instances.limit, 'the lab project has unlimited instances: nothing can be over quota').toBeGreaterThan(0);
    const { result } = await run({ workers: { count: instances.limit }, apiServer: { loadBalancer: true } });
    const p = await problems(result);
    const need = 1 + 1 + instances.limit + 1;
    expect(p).toContain(
      `control plane 1 + 1 surge, node group md-0 ${instances.limit} + 1 surge (cluster.controlPlane.count, cluster.workers.count, and their rollout surge): the cluster needs ${need} instances at its peak, but the project's quota leaves ${instances.limit - instances.used} (limit ${instances.limit}, ${instances.used} in use)`,
    );
    expect(p).toContain(
      'cluster.apiServer.loadBalancer: the cloud has no load-balancer service (Octavia) in its catalog; set cluster.apiServer.loadBalancer: false',
    );
  });

  it('fails root volumes larger than the Cinder quota', async () => {
    const { gigabytes } = await client().volumeLimits();
    const { result } = await run({
      controlPlane: { count: 1, flavor: 'm1.small', rootVolume: { size: gigabytes.limit } },
    });
    const p = await problems(result);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(
      new RegExp(
        `^cluster\\.controlPlane\\.rootVolume / cluster\\.workers\\.rootVolume with .*: the cluster needs ${2 * gigabytes.limit} GB of volumes at its peak`,
      ),
    );
  });
});

/** The REST client against the lab's real Keystone, Nova, Neutron, Glance and Cinder. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { parse } from 'yaml';
import { RestOpenStackClient } from '../../src/openstack/client.js';
import { parseCloud } from '../../src/openstack/cloud-config.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { LAB_CLOUDS, labClient, uniqueName } from '../helpers/seed-infra-lab.js';

describe('OpenStack client on the lab', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start({ seed: 1, rate: 0 });
  });
  afterAll(() => proxy?.close());

  it('logs in with an application credential and with a password, and finds every service', async () => {
    for (const cloud of ['lab', 'lab-password']) {
      const c = labClient(cloud);
      for (const t of ['compute', 'network', 'image', 'block-storage'] as const)
        expect(await c.hasService(t)).toBe(true);
      expect((await c.listFlavors()).map((f) => f.name)).toContain('m1.large');
      expect(c.session.logins).toBe(1);
    }
  });

  it('negotiates the Nova microversion below the server maximum', async () => {
    const c = labClient('lab');
    const root = (await c.session.endpoint('compute')).replace(/(\/v2\.1).*$/, '$1');
    const doc = await c.session.request('compute', 'GET', `${root}/`);
    const max = String(doc.body.version.version);
    const [maj, min] = await c.compute.microversion();
    expect(maj).toBe(2);
    expect(min).toBeLessThanOrEqual(Number(max.split('.')[1]));
    expect(min).toBe(Math.min(90, Number(max.split('.')[1])));
  });

  it('a create whose answer is lost after Neutron acted leaves exactly one network', async () => {
    const doc = parse(fs.readFileSync(LAB_CLOUDS, 'utf8')) as {
      clouds: Record<string, { auth: { auth_url: string } }>;
    };
    doc.clouds.lab!.auth.auth_url = proxy.url(doc.clouds.lab!.auth.auth_url);
    const c = new RestOpenStackClient(parseCloud(doc, 'lab'), { timeoutMs: 2000, retry: { baseDelayMs: 50 } });
    const name = uniqueName('oc');
    const spec = { name, description: `managed by capi-mgmt (capi-mgmt:${name})`, tags: [`capi-mgmt:${name}`] };
    for (const kind of ['error-after', 'reset-after', 'timeout-after'] as const) {
      proxy.configure({
        seed: 3,
        rate: 1,
        kinds: [kind],
        eligible: (m, p) =>
          m === 'POST' && p.endsWith('/v2.0/networks') && proxy.faults.filter((f) => f.kind === kind).length === 0,
      });
      const net = await c.createNetwork({ ...spec, name: `${name}-${kind}` });
      proxy.configure({ rate: 0 });
      const found = await labClient('lab').listNetworks({ name: `${name}-${kind}` });
      expect(found.map((n) => n.id)).toEqual([net.id]);
      expect(found[0]!.tags).toEqual(spec.tags);
      await c.deleteNetwork(net.id);
    }
    expect(proxy.faults.map((f) => f.kind).sort()).toEqual(['error-after', 'reset-after', 'timeout-after']);
  });

  it('says which image names are close when one is missing', async () => {
    const c = labClient('lab');
    expect(await c.findImages({ name: 'fake-imag' })).toEqual([]);
    expect(await c.listImageNames()).toContain('fake-image');
  });
});

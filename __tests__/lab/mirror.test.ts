import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { labHelm } from '../../test/lab/mirror/lab.js';
import { startMirror, type Mirror } from '../../test/lab/mirror/server.js';

let mirror: Mirror;
beforeAll(async () => {
  mirror = await startMirror({ helm: labHelm() });
});
afterAll(() => mirror?.close());

const get = async (path: string): Promise<Response> => fetch(`${mirror.url}${path}`);

describe('download mirror', () => {
  it('serves provider manifests under the upstream release paths, per fixture version', async () => {
    for (const v of mirror.versions.capi) {
      const r = await get(`/kubernetes-sigs/cluster-api/releases/download/${v}/cluster-api-components.yaml`);
      expect(r.status).toBe(200);
      const text = await r.text();
      expect(text).toContain(`cluster-api-controller:${v}`);
      // The real release (test/lab/capi/manifests.sh): full schemas, webhooks served by the lab's host processes.
      expect(text).toContain('openAPIV3Schema');
      expect(text).toContain('url: https://127.0.0.1:61443/validate-cluster-x-k8s-io-v1beta2-cluster');
      expect(text.length).toBeGreaterThan(1_000_000);
    }
    expect((await get(`/k-orc/openstack-resource-controller/releases/download/v2.6.0/install.yaml`)).status).toBe(200);
    expect(
      (
        await get(
          '/kubernetes-sigs/cluster-api-provider-openstack/releases/download/v0.14.8/infrastructure-components.yaml',
        )
      ).status,
    ).toBe(200);
    expect(
      (await get('/kubernetes-sigs/cluster-api/releases/download/v9.9.9/cluster-api-components.yaml')).status,
    ).toBe(404);
  });

  it('is a Helm repository with two versions of each chart', async () => {
    const index = parse(await (await get('/index.yaml')).text()) as {
      entries: Record<string, Array<{ version: string; urls: string[] }>>;
    };
    for (const [id, chart] of [
      ['certManager', 'cert-manager'],
      ['addonProvider', 'cluster-api-addon-provider'],
      ['janitor', 'cluster-api-janitor-openstack'],
      ['openstackCluster', 'openstack-cluster'],
    ] as const) {
      expect(mirror.versions[id]).toHaveLength(2);
      expect(index.entries[chart]!.map((e) => e.version).sort()).toEqual([...mirror.versions[id]].sort());
      const tgz = await get(`/${index.entries[chart]![0]!.urls[0]}`);
      expect(tgz.status).toBe(200);
    }
  });

  it('serves helm and k3s with checksum files that match', async () => {
    const name = `helm-${mirror.helmVersion}-linux-amd64.tar.gz`;
    const tgz = Buffer.from(await (await get(`/${name}`)).arrayBuffer());
    const sum = await (await get(`/${name}.sha256sum`)).text();
    expect(sum).toBe(`${createHash('sha256').update(tgz).digest('hex')}  ${name}\n`);
    const k3sBase = `/k3s-io/k3s/releases/download/${encodeURIComponent('v1.34.8+k3s1')}`;
    const k3s = Buffer.from(await (await get(`${k3sBase}/k3s`)).arrayBuffer());
    expect(await (await get(`${k3sBase}/sha256sum-amd64.txt`)).text()).toContain(
      `${createHash('sha256').update(k3s).digest('hex')}  k3s`,
    );
  });
});

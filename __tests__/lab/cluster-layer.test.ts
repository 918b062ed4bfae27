/**
 * The cluster layer against the lab's real Cluster API: seed-infra makes the
 * seed's network and keypair on the lab OpenStack, a dedicated lab cluster
 * stands in for the seed's K3s, seed-capi installs the real release
 * manifests from the mirror (the lab's supervisor then runs the real
 * managers for it), and the cluster layer installs the lab's
 * openstack-cluster chart and waits until the cluster is Available.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadEnvironment, type LoadedEnvironment } from '../../src/config/load.js';
import { Engine } from '../../src/engine/engine.js';
import type { Layer, LayerContext } from '../../src/engine/types.js';
import { createKubeClient } from '../../src/kube/index.js';
import { clusterLayer } from '../../src/layers/cluster/index.js';
import { clusterOutputs } from '../../src/layers/cluster/outputs.js';
import { seedCapiLayer } from '../../src/layers/seed-capi/index.js';
import { seedInfraLayer } from '../../src/layers/seed-infra/index.js';
import { seedK3sOutputs, type SeedK3sOutputs } from '../../src/layers/seed-k3s/outputs.js';
import { createToolbox } from '../../src/tools/index.js';
import { AdminOpenStack } from '../helpers/admin-openstack.js';
import { labCloudsPath, labExports } from '../helpers/lab-parts.js';
import { MemoryLogger } from '../helpers/logger.js';
import { seedOutputs } from '../helpers/seed-outputs.js';
import { uniqueName } from '../helpers/seed-infra-lab.js';
import { labHelm, startLabCluster, stopLabCluster } from '../../test/lab/mirror/lab.js';
import { startMirror, type Mirror } from '../../test/lab/mirror/server.js';

const run = promisify(execFile);
const SEED_CLUSTER = 'cluster-layer';
const ENDPOINT = '127.0.79.1';
const TEST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk lab-test';

let mirror: Mirror;
let seedKubeconfig: string;
let seedKubeconfigFile: string;
let loaded: LoadedEnvironment;
let tmp: string;
let cacheRoot: string;
const env = labExports();
const admin = new AdminOpenStack();

/** Stands in for seed-k3s: the seed's API is the dedicated lab cluster. */
const seedApi: Layer<null, SeedK3sOutputs> = {
  name: 'seed-k3s',
  outputs: seedK3sOutputs,
  async observe(ctx) {
    ctx.publish(seedK3sOutputs, seedOutputs(seedKubeconfig));
    return null;
  },
  diff: () => ({ changes: [] }),
  async apply() {},
};

function engine(layers: 'all' | 'infra' = 'all') {
  const log = new MemoryLogger();
  const toolbox = (ctx: LayerContext) =>
    createToolbox({ mirrors: ctx.desired.config.mirrors, cache: { kind: 'local', dir: cacheRoot }, log: ctx.log });
  const infra = seedInfraLayer({
    waits: { intervalMs: 300, serverMs: 120_000, volumeMs: 60_000, floatingIpMs: 60_000, deleteMs: 120_000 },
  });
  const all = [
    infra,
    seedApi,
    seedCapiLayer({ toolbox, rolloutTimeoutMs: 180_000 }),
    clusterLayer({ toolbox, pollMs: { min: 500, max: 3000 } }),
  ];
  return {
    log,
    engine: new Engine({
      desired: loaded.desired,
      layers: layers === 'all' ? all : [infra],
      log,
      redactor: loaded.redactor,
    }),
  };
}

const helm = async (args: string[]): Promise<string> =>
  (
    await run(labHelm(), [...args, '--kubeconfig', seedKubeconfigFile], {
      maxBuffer: 32 << 20,
      env: { ...process.env, HELM_CACHE_HOME: path.join(tmp, 'hc'), HELM_CONFIG_HOME: path.join(tmp, 'hcfg') },
    })
  ).stdout;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-mgmt-cluster-layer-'));
  cacheRoot = path.join(tmp, 'cache');
  const [kc, m] = await Promise.all([startLabCluster(SEED_CLUSTER, { fresh: true }), startMirror({ helm: labHelm() })]);
  seedKubeconfig = kc;
  seedKubeconfigFile = path.join(tmp, 'seed.kubeconfig');
  fs.writeFileSync(seedKubeconfigFile, kc, { mode: 0o600 });
  mirror = m;
  const name = uniqueName('cl');
  const dir = path.join(tmp, 'envs', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'environment.yaml'),
    stringify({
      openstack: { cloud: 'lab', cloudsYamlFile: labCloudsPath() },
      seed: {
        image: { name: 'fake-image' },
        flavor: { name: 'm1.small' },
        externalNetwork: { name: 'public' },
        dataVolume: { size: 1 },
        sshPublicKey: TEST_KEY,
        network: { cidr: '192.168.179.0/24' },
      },
      cluster: {
        kubernetesVersion: 'v1.34.4',
        machineImage: { name: 'fake-image' },
        controlPlane: { count: 1 },
        workers: { count: 1 },
        apiServer: { loadBalancer: false, floatingIp: false },
        values: { controlPlaneEndpoint: { host: ENDPOINT, port: 6443 } },
      },
      mirrors: { binaries: mirror.url, manifests: mirror.url, charts: mirror.url },
      versions: { helm: mirror.helmVersion },
    }),
  );
  loaded = loadEnvironment({ name, environmentsDir: path.join(tmp, 'envs'), env: {} });
}, 300_000);

afterAll(async () => {
  if (process.env.CAPI_LAB_KEEP === '1') return;
  if (loaded) {
    // Until the layer's destroy lands: uninstall, let CAPO delete the machines, then the seed's resources.
    await helm(['uninstall', loaded.desired.clusterName, '--namespace', 'default']).catch(() => '');
    const kube = createKubeClient(seedKubeconfig);
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const left = await kube.list('cluster.x-k8s.io/v1beta2', 'Cluster').catch(() => []);
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    await engine('infra').engine.destroy();
  }
  await mirror?.close();
  await stopLabCluster(SEED_CLUSTER, { purge: true }).catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
}, 600_000);

describe('the cluster layer on the lab with the real Cluster API', () => {
  it('applies from nothing to an Available cluster whose kubeconfig lists the Nova servers as Nodes', async () => {
    const { engine: e, log } = engine();
    const plan = await e.plan();
    expect(plan.changes.find((c) => c.layer === 'cluster')).toMatchObject({
      address: `release/${loaded.desired.clusterName}`,
      action: 'create',
    });
    expect(JSON.stringify(plan)).not.toContain(
      fs.readFileSync(labCloudsPath(), 'utf8').match(/application_credential_secret: (\S+)/)![1]!,
    );
    const t0 = Date.now();
    const result = await e.apply();
    console.log(`apply from nothing: ${Math.round((Date.now() - t0) / 1000)} s`);
    console.log(log.lines.filter((l) => l.startsWith('cluster:')).join('\n'));
    expect(result.applied.filter((c) => c.layer === 'cluster')).toHaveLength(1);
    const kubeconfig = e.outputs.get(clusterOutputs)?.kubeconfig;
    expect(kubeconfig).toBeDefined();
    expect(kubeconfig).toContain('token:');
    expect(kubeconfig).not.toContain('client-key-data');

    const nodes = await createKubeClient(kubeconfig!).list('v1', 'Node');
    const servers = (await admin.call('compute', 'GET', '/servers?all_tenants=1')).servers as Array<{
      id: string;
      name: string;
    }>;
    // The seed (`<cluster>-seed`) shares the prefix: the machines are the control plane's and md-0's.
    const machines = servers.filter((s) =>
      ['control-plane', 'md-0'].some((pool) => s.name.startsWith(`${loaded.desired.clusterName}-${pool}-`)),
    );
    expect(machines).toHaveLength(2);
    expect(nodes.map((n) => (n.spec as { providerID: string }).providerID).sort()).toEqual(
      machines.map((s) => `openstack:///${s.id}`).sort(),
    );
  }, 900_000);

  it('then plans nothing', async () => {
    const plan = await engine().engine.plan();
    const real = plan.changes.filter((c) => c.action !== 'no-op');
    expect(real).toEqual([]);
  }, 300_000);

  it('detects values changed with plain helm on the seed, and repairs them', async () => {
    const name = loaded.desired.clusterName;
    await helm([
      'upgrade',
      name,
      'openstack-cluster',
      '--repo',
      mirror.url,
      '--version',
      loaded.desired.config.versions.openstackClusterChart,
      '--namespace',
      'default',
      '--reuse-values',
      '--set',
      'controlPlane.healthCheck.enabled=false',
    ]);
    const drifted = await engine().engine.plan();
    const change = drifted.changes.find((c) => c.layer === 'cluster' && c.action !== 'no-op');
    expect(change?.action).toBe('update');
    expect(change?.reason).toContain('controlPlane.healthCheck.enabled');
    await engine().engine.apply();
    const values = JSON.parse(await helm(['get', 'values', name, '--namespace', 'default', '-o', 'json'])) as {
      controlPlane?: { healthCheck?: unknown };
    };
    expect(values.controlPlane?.healthCheck).toBeUndefined();
    const again = await engine().engine.plan();
    expect(again.changes.filter((c) => c.action !== 'no-op')).toEqual([]);
  }, 900_000);
});

void env;

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { Engine } from '../../src/engine/engine.js';
import type { Layer } from '../../src/engine/types.js';
import { createKubeClient, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { VERSION_ANNOTATION } from '../../src/components/index.js';
import { seedCapiLayer } from '../../src/layers/seed-capi/index.js';
import { seedK3sOutputs, type SeedK3sOutputs } from '../../src/layers/seed-k3s/outputs.js';
import type { Desired } from '../../src/model/desired.js';
import { createToolbox } from '../../src/tools/index.js';
import { Redactor } from '../../src/util/redact.js';
import { testDesired } from '../helpers/desired.js';
import { MemoryLogger } from '../helpers/logger.js';
import { startApiCounter, type ApiCounter } from '../../test/lab/mirror/api-counter.js';
import { labHelm, startLabCluster, stopLabCluster } from '../../test/lab/mirror/lab.js';
import { startMirror, type Mirror } from '../../test/lab/mirror/server.js';
import { seedOutputs } from '../helpers/seed-outputs.js';

// A dedicated cluster: seed-capi installs cluster-wide things (CRDs, provider namespaces).
const CLUSTER = 'seed-capi-test';

let mirror: Mirror;
let counter: ApiCounter;
let kube: KubeClient;
let upstreamKubeconfig: string;
let cacheRoot: string;

beforeAll(async () => {
  const [kc, m] = await Promise.all([startLabCluster(CLUSTER, { fresh: true }), startMirror({ helm: labHelm() })]);
  upstreamKubeconfig = kc;
  mirror = m;
  counter = await startApiCounter(upstreamKubeconfig);
  kube = createKubeClient(upstreamKubeconfig);
  cacheRoot = mkdtempSync(join(tmpdir(), 'capi-mgmt-seed-capi-'));
});

afterAll(async () => {
  await counter?.close();
  await mirror?.close();
  if (cacheRoot) rmSync(cacheRoot, { recursive: true, force: true });
  if (process.env.CAPI_LAB_KEEP !== '1') await stopLabCluster(CLUSTER, { purge: true });
});

const versions = (i: 0 | 1) => ({
  helm: mirror.helmVersion,
  capi: mirror.versions.capi[i]!,
  orc: mirror.versions.orc[i]!,
  capo: mirror.versions.capo[i]!,
  certManager: mirror.versions.certManager[i]!,
  addonProvider: mirror.versions.addonProvider[i]!,
  janitor: mirror.versions.janitor[i]!,
});

function desiredAt(i: 0 | 1): Desired {
  return testDesired('labcapi', {
    versions: versions(i),
    mirrors: { binaries: mirror.url, manifests: mirror.url, charts: mirror.url },
  });
}

/** The layer before seed-capi hands over the seed kubeconfig (here: through the counting proxy). */
const seedApi = (kubeconfig: string | undefined): Layer<null, SeedK3sOutputs> => ({
  name: 'seed-k3s',
  outputs: seedK3sOutputs,
  async observe(ctx) {
    if (kubeconfig) ctx.publish(seedK3sOutputs, seedOutputs(kubeconfig));
    return null;
  },
  diff: () => ({ changes: [] }),
  async apply() {},
});

function engine(desired: Desired, kubeconfig: string | null = counter.kubeconfig) {
  const log = new MemoryLogger();
  const layer = seedCapiLayer({
    toolbox: (ctx) =>
      createToolbox({ mirrors: ctx.desired.config.mirrors, cache: { kind: 'local', dir: cacheRoot }, log: ctx.log }),
    rolloutTimeoutMs: 180_000,
  });
  return {
    log,
    engine: new Engine({ desired, layers: [seedApi(kubeconfig ?? undefined), layer], log, redactor: new Redactor() }),
  };
}

const deployment = (namespace: string, name: string) =>
  kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name });
const image = (d: KubeObject | undefined): string =>
  (d?.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]!.image;
const summary = (changes: Array<{ address: string; action: string }>) =>
  Object.fromEntries(changes.map((c) => [c.address, c.action]));

describe('seed-capi on a dedicated lab cluster', () => {
  it('plans every component as create when the seed is not there yet', async () => {
    const { engine: e } = engine(desiredAt(0), null);
    const plan = await e.plan();
    expect(plan.counts.create).toBe(6);
  });

  it('cold apply installs everything and waits for each controller', async () => {
    const { engine: e, log } = engine(desiredAt(0));
    const t0 = Date.now();
    const { plan, applied } = await e.apply();
    console.log(`seed-capi cold apply: ${Math.round((Date.now() - t0) / 1000)} s`);
    expect(plan.counts.create).toBe(6);
    expect(applied).toHaveLength(6);
    expect(counter.writes().length).toBeGreaterThan(20); // the proxy does see this run's writes
    for (const [ns, name] of [
      ['cert-manager', 'cert-manager-webhook'],
      ['capi-system', 'capi-controller-manager'],
      ['capi-kubeadm-control-plane-system', 'capi-kubeadm-control-plane-controller-manager'],
      ['orc-system', 'orc-controller-manager'],
      ['capo-system', 'capo-controller-manager'],
      ['capi-addon-system', 'cluster-api-addon-provider'],
      ['capi-janitor-system', 'cluster-api-janitor-openstack'],
    ] as const) {
      expect(log.lines).toContain(`Deployment ${ns}/${name} is Available`);
    }
    const capi = await deployment('capi-system', 'capi-controller-manager');
    expect(capi?.metadata.annotations?.[VERSION_ANNOTATION]).toBe(versions(0).capi);
    expect(JSON.stringify(capi?.spec)).toContain(
      '--feature-gates=MachinePool=false,ClusterTopology=true,RuntimeSDK=true,MachineSetPreflightChecks=true',
    );
    const capo = await deployment('capo-system', 'capo-controller-manager');
    expect(JSON.stringify(capo?.spec)).toContain('--feature-gates=PriorityQueue=true,AutoScaleFromZero=true');
    // The release's own CRDs and webhooks (the lab mirror serves the real manifests).
    const crd = await kube.get({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      name: 'clusters.cluster.x-k8s.io',
    });
    const served = (crd?.spec as { versions: Array<{ name: string; storage: boolean }> }).versions;
    expect(served.map((v) => v.name)).toEqual(expect.arrayContaining(['v1beta1', 'v1beta2']));
    expect(served.find((v) => v.storage)?.name).toBe('v1beta2');
    const webhooks = await kube.get({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      name: 'capi-validating-webhook-configuration',
    });
    expect(JSON.stringify(webhooks)).toContain('https://127.0.0.1:61443/');
  });

  it('a second apply makes no write request', async () => {
    const { engine: e, log } = engine(desiredAt(0));
    counter.reset();
    const { plan, applied } = await e.apply();
    expect(plan.counts['no-op']).toBe(6);
    expect(applied).toEqual([]);
    expect(log.lines).toContain('seed-capi: already in the desired state');
    expect(counter.writes()).toEqual([]);
    // It did look: reads plus the dry runs of the drift check.
    expect(counter.requests.length).toBeGreaterThan(10);
    expect(counter.requests.some((r) => r.dryRun)).toBe(true);
    // helm's reads went through the proxy too (its release records are Secrets).
    expect(counter.requests.some((r) => r.path.includes('/secrets') && r.path.includes('owner%3Dhelm'))).toBe(true);
  });

  it('detects drift by dry run and repairs it', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(upstreamKubeconfig);
    await KubernetesObjectApi.makeApiClient(kc).patch(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'capo-controller-manager', namespace: 'capo-system' },
        spec: { template: { spec: { containers: [{ name: 'manager', args: ['--v=9'] }] } } },
      },
      undefined,
      undefined,
      'kubectl-edit',
      undefined,
      PatchStrategy.StrategicMergePatch,
    );
    const { engine: e } = engine(desiredAt(0));
    const plan = await e.plan();
    const drift = plan.changes.find((c) => c.address === 'provider/cluster-api-provider-openstack')!;
    expect(drift.action).toBe('update');
    expect(drift.reason).toMatch(
      /drifted: Deployment capo-system\/capo-controller-manager: spec.template.spec.containers\[0\].args/,
    );
    await e.apply();
    expect(JSON.stringify((await deployment('capo-system', 'capo-controller-manager'))?.spec)).toContain('--v=2');
    expect((await engine(desiredAt(0)).engine.plan()).counts['no-op']).toBe(6);
  });

  it('upgrades every component to the next fixture version: the plan shows each version change, apply performs them', async () => {
    const { engine: e } = engine(desiredAt(1));
    const plan = await e.plan();
    const from = versions(0);
    const to = versions(1);
    expect(summary(plan.changes)).toEqual({
      'release/cert-manager': 'update',
      'provider/cluster-api': 'update',
      'provider/openstack-resource-controller': 'update',
      'provider/cluster-api-provider-openstack': 'update',
      'release/cluster-api-addon-provider': 'update',
      'release/cluster-api-janitor-openstack': 'update',
    });
    const capi = plan.changes.find((c) => c.address === 'provider/cluster-api')!;
    expect(capi).toMatchObject({
      before: { version: from.capi },
      after: { version: to.capi },
      reason: `upgrade ${from.capi} -> ${to.capi}`,
    });
    const janitor = plan.changes.find((c) => c.address === 'release/cluster-api-janitor-openstack')!;
    expect(janitor).toMatchObject({ before: { version: from.janitor }, after: { version: to.janitor } });

    const t0 = Date.now();
    await e.apply();
    console.log(`seed-capi upgrade apply: ${Math.round((Date.now() - t0) / 1000)} s`);
    expect(image(await deployment('capi-system', 'capi-controller-manager'))).toContain(`:${to.capi}`);
    expect(image(await deployment('capo-system', 'capo-controller-manager'))).toContain(`:${to.capo}`);
    expect(image(await deployment('cert-manager', 'cert-manager'))).toContain(`:${to.certManager}`);
    expect(image(await deployment('capi-janitor-system', 'cluster-api-janitor-openstack'))).toContain(`:${to.janitor}`);

    counter.reset();
    const again = await engine(desiredAt(1)).engine.apply();
    expect(again.applied).toEqual([]);
    expect(counter.writes()).toEqual([]);
  });

  it('removes the legacy CAPO mutating webhook', async () => {
    await kube.apply([
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'capo-mutating-webhook-configuration' },
        webhooks: [],
      },
    ]);
    const { engine: e } = engine(desiredAt(1));
    const { plan } = await e.apply();
    expect(summary(plan.changes)['webhook/capo-mutating-webhook-configuration']).toBe('delete');
    expect(
      await kube.get({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        name: 'capo-mutating-webhook-configuration',
      }),
    ).toBeUndefined();
  });
});

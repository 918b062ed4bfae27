/**
 * seed-capi's apply path on fakes: seed-k3s on a fake seed host hands on
 * the kubeconfig, and the component set installs into an in-memory
 * Kubernetes API through a fake helm, with the lab mirror's provider
 * manifests as the published text. The controllers and CRDs become ready a
 * few reads after each change, as on a real cluster.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Component } from '../../src/components/index.js';
import { Engine } from '../../src/engine/engine.js';
import type { LayerContext } from '../../src/engine/types.js';
import { seedCapiComponents, seedCapiLayer } from '../../src/layers/seed-capi/index.js';
import { seedK3sLayer } from '../../src/layers/seed-k3s/index.js';
import type { KubeObject } from '../../src/kube/index.js';
import { hasChanges } from '../../src/plan/plan.js';
import type { Toolbox } from '../../src/tools/index.js';
import { SOURCES } from '../../src/model/sources.js';
import type { ArtifactCache } from '../../src/tools/cache.js';
import { Redactor } from '../../src/util/redact.js';
import { FakeHelm } from '../fakes/helm.js';
import { FakeKube } from '../fakes/kube.js';
import { fakeK3sBinary, FakeSeedHost, SEED_PRIVATE_KEY } from '../fakes/ssh.js';
import { testDesired } from '../helpers/desired.js';
import { MemoryLogger } from '../helpers/logger.js';
import { KEY } from '../helpers/seed-infra-fixture.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/mirror/manifests');
const VOLUME = '6f1c2a9e-5d4b-4c3a-9e8f-7a6b5c4d3e2f';
const dirs: string[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The published manifests are the lab mirror's stand-ins; charts come from the fake helm. */
function fakeToolbox(): Toolbox {
  return {
    // Never used: nothing is downloaded or cached here.
    cache: {} as ArtifactCache,
    helm: async () => '/fake/helm',
    k3s: async () => {
      throw new Error('seed-capi never asks for K3s');
    },
    manifest: async (source, version) =>
      fs.readFileSync(path.join(FIXTURES, `${source}.yaml.tpl`), 'utf8').replaceAll('__VERSION__', version),
    chart: (source) => ({ repo: 'https://charts.fake.test', chart: SOURCES[source].chart }),
  };
}

/** A chart renders its component's controllers (and, for cert-manager, a CRD), like the real charts do. */
function chartsFor(components: Component[]): Map<string, (r: string, ns: string) => KubeObject[]> {
  const charts = new Map<string, (r: string, ns: string) => KubeObject[]>();
  for (const c of components) {
    if (c.kind !== 'chart') continue;
    charts.set(SOURCES[c.source].chart, (_release, ns) => [
      ...c.controllers.map((d) => ({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: d.name, namespace: ns },
        spec: {
          replicas: 1,
          template: { spec: { containers: [{ name: 'manager', image: `fake/${d.name}:${c.version}` }] } },
        },
      })),
      // cert-manager's chart installs its CRDs (installCRDs: true); the providers' manifests use Issuer and Certificate.
      ...(c.source === 'certManager'
        ? ['Certificate', 'Issuer', 'ClusterIssuer'].map((kind) => ({
            apiVersion: 'apiextensions.k8s.io/v1',
            kind: 'CustomResourceDefinition',
            metadata: { name: `${kind.toLowerCase()}s.cert-manager.io` },
            spec: {
              group: 'cert-manager.io',
              names: { kind },
              scope: kind === 'ClusterIssuer' ? 'Cluster' : 'Namespaced',
              versions: [{ name: 'v1' }],
            },
          }))
        : []),
    ]);
  }
  return charts;
}

function world() {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-fake-'));
  dirs.push(bin);
  const host = new FakeSeedHost({ address: '203.0.113.10' });
  host.attach(VOLUME);
  const desired = testDesired('unit', {
    seed: { sshPublicKey: KEY, ssh: { address: '203.0.113.10', connectTimeoutSeconds: 1 } },
  });
  const kube = new FakeKube();
  const helm = new FakeHelm(kube);
  for (const [name, render] of chartsFor(seedCapiComponents(desired))) helm.charts.set(name, render);
  const kubeconfigs: string[] = [];
  const engine = (o: { rolloutTimeoutMs?: number } = {}) => {
    const e = new Engine({
      desired,
      layers: [
        seedK3sLayer({
          k3sBinary: async (v) => fakeK3sBinary(bin, v),
          dataVolume: { volumeId: VOLUME },
          ssh: { connect: host.connect, intervalMs: 5 },
          apiVersion: host.apiVersion,
        }),
        seedCapiLayer({
          toolbox: (_ctx: LayerContext) => fakeToolbox(),
          kube: (kubeconfig) => {
            kubeconfigs.push(kubeconfig);
            return kube;
          },
          helm: () => helm,
          rolloutTimeoutMs: o.rolloutTimeoutMs ?? 5000,
        }),
      ],
      log: new MemoryLogger(),
      redactor: new Redactor(),
      secrets: { sshPrivateKey: SEED_PRIVATE_KEY },
    });
    engines.push(e);
    return e;
  };
  return { host, kube, helm, engine, kubeconfigs };
}

const capiChanges = (cs: ReadonlyArray<{ layer: string; action: string; address: string }>) =>
  cs.filter((c) => c.layer === 'seed-capi' && c.action !== 'no-op').map((c) => `${c.action} ${c.address}`);

describe('seed-capi apply on fake Kubernetes and helm', () => {
  it('installs the stack from nothing on the seed K3s just made, then a re-run writes nothing', async () => {
    const { kube, helm, engine, kubeconfigs } = world();
    const e = engine();
    const plan = await e.plan();
    expect(capiChanges(plan.changes).sort()).toEqual([
      'create provider/cluster-api',
      'create provider/cluster-api-provider-openstack',
      'create provider/openstack-resource-controller',
      'create release/cert-manager',
      'create release/cluster-api-addon-provider',
      'create release/cluster-api-janitor-openstack',
    ]);
    await e.apply();
    // The component set reached the cluster through the kubeconfig seed-k3s handed on.
    expect(kubeconfigs[0]).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/);
    expect(
      [...helm.releases.values()].map((r) => `${r.info.namespace}/${r.info.name} ${r.info.status}`).sort(),
    ).toEqual([
      'capi-addon-system/cluster-api-addon-provider deployed',
      'capi-janitor-system/cluster-api-janitor-openstack deployed',
      'cert-manager/cert-manager deployed',
    ]);
    const deployments = kube.all('Deployment');
    expect(deployments.length).toBeGreaterThanOrEqual(9);
    expect(deployments.every((d) => (d.status as { availableReplicas?: number }).availableReplicas === 1)).toBe(true);

    const installs = helm.installs.length;
    kube.writes.length = 0;
    const again = await engine().apply();
    expect(hasChanges(again.plan)).toBe(false);
    expect(kube.writes).toEqual([]);
    expect(helm.installs).toHaveLength(installs);
  });

  it('repairs a deleted controller and a removed provider object, and removes the legacy CAPO webhook', async () => {
    const { kube, engine } = world();
    await engine().apply();
    await kube.delete({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'capo-system',
      name: 'capo-controller-manager',
    });
    await kube.apply([
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'capo-mutating-webhook-configuration' },
      },
    ]);
    // Someone scaled a CAPI controller by hand: the server-side dry run shows the drift.
    kube.mutate(
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'capi-system', name: 'capi-controller-manager' },
      (d) => {
        (d.spec as { replicas: number }).replicas = 3;
      },
    );
    const plan = await engine().plan();
    expect(capiChanges(plan.changes).sort()).toEqual([
      // CAPO's only controller is gone: the provider counts as not installed.
      'create provider/cluster-api-provider-openstack',
      'delete webhook/capo-mutating-webhook-configuration',
      'update provider/cluster-api',
    ]);
    expect(plan.changes.find((c) => c.address === 'provider/cluster-api')?.reason).toMatch(/spec\.replicas/);
    await engine().apply();
    expect(hasChanges(await engine().plan())).toBe(false);
    expect(kube.all('MutatingWebhookConfiguration')).toEqual([]);
    expect(kube.all('Deployment').find((d) => d.metadata.name === 'capi-controller-manager')?.spec).toMatchObject({
      replicas: 1,
    });
  });

  it('a controller that never becomes Available fails with a timeout naming it', async () => {
    const { kube, engine } = world();
    kube.stuck.add('capo-system/capo-controller-manager');
    await expect(engine({ rolloutTimeoutMs: 50 }).apply()).rejects.toThrow(
      /timed out after \d+ s waiting for Deployment capo-system\/capo-controller-manager to be Available \(last seen: 0\/1 available, 0 updated\)/,
    );
    kube.unstick();
    await engine().apply();
    expect(hasChanges(await engine().plan())).toBe(false);
  });

  it('a 503 on a read stops the plan before any write, naming the object', async () => {
    const { kube, helm, engine } = world();
    await engine().apply();
    kube.writes.length = 0;
    const installs = helm.installs.length;
    kube.fault({ verb: 'read', kind: 'Deployment', name: 'capi-controller-manager', fault: 'unavailable' });
    await expect(engine().apply()).rejects.toThrow(
      /read Deployment capi-system\/capi-controller-manager: HTTP 503 ServiceUnavailable/,
    );
    expect(kube.writes).toEqual([]);
    expect(helm.installs).toHaveLength(installs);
  });

  it('a 409 from a concurrent writer fails the apply; the next run converges', async () => {
    const { kube, engine } = world();
    kube.fault({ verb: 'apply', kind: 'Deployment', name: 'orc-controller-manager', fault: 'conflict' });
    await expect(engine().apply()).rejects.toThrow(
      /apply Deployment orc-system\/orc-controller-manager: HTTP 409 Conflict/,
    );
    await engine().apply();
    expect(hasChanges(await engine().plan())).toBe(false);
  });

  it('an atomic chart whose controller never comes up is rolled back, and the next run installs it', async () => {
    const { kube, helm, engine } = world();
    kube.stuck.add('capi-janitor-system/cluster-api-janitor-openstack');
    // helm waits as long as the component allows; make that short through the chart's own wait.
    const janitor = seedCapiComponents(testDesired('unit', { seed: { sshPublicKey: KEY } })).find(
      (c) => c.address === 'release/cluster-api-janitor-openstack',
    );
    expect(janitor).toMatchObject({ atomic: true });
    const upgrade = helm.upgradeInstall.bind(helm);
    helm.upgradeInstall = (o) => upgrade({ ...o, timeoutMs: Math.min(o.timeoutMs ?? 0, 50) });
    await expect(engine().apply()).rejects.toThrow(
      /INSTALL FAILED: release cluster-api-janitor-openstack failed, and has been uninstalled due to atomic being set/,
    );
    expect(helm.releases.has('capi-janitor-system/cluster-api-janitor-openstack')).toBe(false);
    kube.unstick();
    await engine().apply();
    expect(await helm.status('cluster-api-janitor-openstack', 'capi-janitor-system')).toMatchObject({
      status: 'deployed',
    });
  });

  it('a helm run killed mid-install leaves the release pending: the plan shows it, and apply stops with the message from helm (no automatic recovery yet)', async () => {
    const { helm, engine } = world();
    helm.crashNext = true;
    await expect(engine().apply()).rejects.toThrow(/helm upgrade --install cert-manager\/cert-manager: killed/);
    expect(await helm.status('cert-manager', 'cert-manager')).toMatchObject({ status: 'pending-install' });
    const plan = await engine().plan();
    expect(plan.changes.find((c) => c.address === 'release/cert-manager')).toMatchObject({
      action: 'update',
      reason: expect.stringMatching(/release status is pending-install/),
    });
    await expect(engine().apply()).rejects.toThrow(/another operation \(install\/upgrade\/rollback\) is in progress/);
  });
});

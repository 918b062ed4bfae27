import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderProvider } from '../../src/components/capi/providers.js';
import { valuesDigest } from '../../src/components/diff.js';
import type { ComponentsObserved, ObservedChart, ObservedManifest } from '../../src/components/observe.js';
import { deploymentVersion, stampComponent, VERSION_ANNOTATION } from '../../src/components/stamp.js';
import { seedCapiComponents, seedCapiLayer } from '../../src/layers/seed-capi/index.js';
import type { Desired } from '../../src/model/desired.js';
import { testDesired } from '../helpers/desired.js';

const fixture = (c: string, v: string): string =>
  readFileSync(join(import.meta.dirname, '../fixtures/mirror/manifests', `${c}.yaml.tpl`), 'utf8').replaceAll(
    '__VERSION__',
    v,
  );

const argsOf = (objects: ReturnType<typeof renderProvider>, ns: string, name: string): unknown => {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.namespace === ns && o.metadata.name === name)!;
  return (d.spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0]!
    .args;
};

describe('renderProvider', () => {
  it('substitutes clusterctl defaults, replaces controller args as azimuth-ops does; the stamp names source and version', () => {
    const objects = stampComponent(renderProvider('capi', 'v1.14.0', fixture('capi', 'v1.14.0')), 'capi', 'v1.14.0');
    expect(argsOf(objects, 'capi-system', 'capi-controller-manager')).toEqual([
      '--leader-elect',
      '--diagnostics-address=0.0.0.0:8443',
      '--insecure-diagnostics=false',
      '--feature-gates=MachinePool=false,ClusterTopology=true,RuntimeSDK=true,MachineSetPreflightChecks=true',
    ]);
    expect(argsOf(objects, 'capi-kubeadm-bootstrap-system', 'capi-kubeadm-bootstrap-controller-manager')).toContain(
      '--feature-gates=KubeadmBootstrapFormatIgnition=false',
    );
    expect(JSON.stringify(objects)).not.toContain('${');
    for (const o of objects) {
      expect(o.metadata.annotations?.[VERSION_ANNOTATION]).toBe('v1.14.0');
      expect(o.metadata.labels?.['capi-mgmt.io/component']).toBe('capi');
    }
    const capo = renderProvider('capo', 'v0.14.7', fixture('capo', 'v0.14.7'));
    expect(argsOf(capo, 'capo-system', 'capo-controller-manager')).toEqual([
      '--leader-elect',
      '--v=2',
      '--diagnostics-address=0.0.0.0:8080',
      '--insecure-diagnostics=true',
      '--feature-gates=PriorityQueue=true,AutoScaleFromZero=true',
    ]);
  });

  it('fails clearly when a patched Deployment is missing from the manifest', () => {
    expect(() =>
      renderProvider('capo', 'v0', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: capo-system}\n'),
    ).toThrow(/no Deployment capo-system\/capo-controller-manager/);
  });

  it('reads the version from our stamp, else from the image tag', () => {
    const objects = stampComponent(renderProvider('orc', 'v2.6.0', fixture('orc', 'v2.6.0')), 'orc', 'v2.6.0');
    const d = objects.find((o) => o.kind === 'Deployment')!;
    expect(deploymentVersion(d)).toEqual({ version: 'v2.6.0', managed: true });
    delete d.metadata.annotations![VERSION_ANNOTATION];
    expect(deploymentVersion(d)).toEqual({ version: 'v2.6.0', managed: false });
  });
});

/** Observed state that matches desired exactly. */
function converged(desired: Desired): ComponentsObserved {
  const components: ComponentsObserved['components'] = {};
  for (const s of seedCapiComponents(desired)) {
    if (s.kind === 'absent') components[s.address] = { kind: 'absent', exists: false };
    else if (s.kind === 'objects') throw new Error('seed-capi declares no plain objects');
    else
      components[s.address] =
        s.kind === 'chart'
          ? ({
              kind: 'chart',
              installed: true,
              version: s.version,
              status: 'deployed',
              values: s.values,
              unavailable: [],
            } satisfies ObservedChart)
          : ({
              kind: 'manifest',
              installed: true,
              version: s.version,
              managed: true,
              missingControllers: [],
              unavailable: [],
              drift: [],
            } satisfies ObservedManifest);
  }
  return { reachable: true, components };
}

const diffSeedCapi = (desired: Desired, observed: ComponentsObserved) => seedCapiLayer().diff(desired, observed);

describe('seed-capi plan', () => {
  const desired = testDesired();

  it('plans every component as create from desired state when the seed is not reachable', () => {
    const d = diffSeedCapi(desired, { reachable: false, components: {} });
    expect(d.changes.map((c) => [c.address, c.action])).toEqual([
      ['release/cert-manager', 'create'],
      ['provider/cluster-api', 'create'],
      ['provider/openstack-resource-controller', 'create'],
      ['provider/cluster-api-provider-openstack', 'create'],
      ['release/cluster-api-addon-provider', 'create'],
      ['release/cluster-api-janitor-openstack', 'create'],
    ]);
    expect(d.changes[1]!.after).toEqual({ version: 'v1.14.0' });
    expect(d.notes?.[0]).toMatch(/not reachable/);
  });

  it('is all no-op when everything matches', () => {
    const d = diffSeedCapi(desired, converged(desired));
    expect(d.changes.every((c) => c.action === 'no-op')).toBe(true);
  });

  it('shows each version change with before and after', () => {
    const next = testDesired('test', {
      versions: { capi: 'v1.14.1', certManager: 'v1.21.2', janitor: '0.15.1' },
    });
    const d = diffSeedCapi(next, converged(desired));
    const updates = d.changes.filter((c) => c.action === 'update');
    expect(updates.map((c) => [c.address, c.before, c.after, c.reason])).toEqual([
      [
        'release/cert-manager',
        expect.objectContaining({ version: 'v1.21.1' }),
        expect.objectContaining({ version: 'v1.21.2' }),
        'upgrade v1.21.1 -> v1.21.2',
      ],
      ['provider/cluster-api', { version: 'v1.14.0' }, { version: 'v1.14.1' }, 'upgrade v1.14.0 -> v1.14.1'],
      [
        'release/cluster-api-janitor-openstack',
        expect.objectContaining({ version: '0.15.0' }),
        expect.objectContaining({ version: '0.15.1' }),
        'upgrade 0.15.0 -> 0.15.1',
      ],
    ]);
    const back = diffSeedCapi(desired, converged(next));
    expect(back.changes.find((c) => c.address === 'provider/cluster-api')!.reason).toBe('downgrade v1.14.1 -> v1.14.0');
  });

  it('updates on drift, values changes, failed releases, adoption and missing controllers; deletes the legacy webhook', () => {
    const o = converged(desired);
    (o.components['provider/cluster-api'] as ObservedManifest).drift = [
      'Deployment capi-system/capi-controller-manager: spec.template.spec.containers[0].args',
    ];
    (o.components['provider/openstack-resource-controller'] as ObservedManifest).managed = false;
    (o.components['provider/cluster-api-provider-openstack'] as ObservedManifest).missingControllers = [
      'capo-system/capo-controller-manager',
    ];
    (o.components['release/cert-manager'] as ObservedChart).values = { installCRDs: false };
    (o.components['release/cluster-api-addon-provider'] as ObservedChart).status = 'failed';
    o.components['webhook/capo-mutating-webhook-configuration'] = { kind: 'absent', exists: true };
    const d = diffSeedCapi(desired, o);
    const by = Object.fromEntries(d.changes.map((c) => [c.address, c]));
    expect(by['provider/cluster-api']!.reason).toMatch(/^drifted: Deployment capi-system/);
    expect(by['provider/openstack-resource-controller']!.reason).toMatch(/adopt/);
    expect(by['provider/cluster-api-provider-openstack']!.reason).toMatch(/controllers missing/);
    expect(by['release/cert-manager']!.reason).toMatch(/values differ at config, installCRDs, prometheus/);
    expect(by['release/cert-manager']!.before).toMatchObject({ values: valuesDigest({ installCRDs: false }) });
    expect(by['release/cluster-api-addon-provider']!.reason).toBe('release status is failed');
    expect(by['release/cluster-api-janitor-openstack']!.action).toBe('no-op');
    expect(by['webhook/capo-mutating-webhook-configuration']!.action).toBe('delete');
  });

  it('notes controllers that are not Available', () => {
    const o = converged(desired);
    (o.components['provider/cluster-api'] as ObservedManifest).unavailable = [
      'capi-system/capi-controller-manager (0/1 available, 1 updated)',
    ];
    expect(diffSeedCapi(desired, o).notes).toEqual([
      'seed-capi: Cluster API core + kubeadm: not Available: capi-system/capi-controller-manager (0/1 available, 1 updated)',
    ]);
  });
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import {
  createKubeClient,
  FIELD_MANAGER,
  parseManifests,
  substituteVariables,
  type KubeClient,
  type KubeObject,
} from '../../src/kube/index.js';
import { WaitTimeoutError } from '../../src/util/wait.js';
import { labKubeconfig } from '../../test/lab/mirror/lab.js';

// Shares the lab's `seed` cluster: everything lives under unique names and is removed afterwards.
const id = randomBytes(3).toString('hex');
const ns = `kube-test-${id}`;
const group = `t${id}.capi-mgmt.test`;
const crdName = `widgets.${group}`;

const MANIFEST = `
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: ${group}/v1
kind: Widget
metadata: {name: w1, namespace: ${ns}}
spec: {size: \${WIDGET_SIZE:=3}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "\${IMAGE}"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ${ns}}
data: {mode: \${MODE=fast}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${crdName}}
spec:
  group: ${group}
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
            status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

let kube: KubeClient;
let raw: KubernetesObjectApi;
const lines: string[] = [];
const log = (m: string): void => void lines.push(m);

function objects(vars: Record<string, string> = {}): KubeObject[] {
  return parseManifests(substituteVariables(MANIFEST, { IMAGE: 'registry.invalid/web:1', ...vars }));
}

beforeAll(() => {
  const text = labKubeconfig('seed');
  kube = createKubeClient(text);
  const kc = new KubeConfig();
  kc.loadFromString(text);
  raw = KubernetesObjectApi.makeApiClient(kc);
});

afterAll(async () => {
  await kube?.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
  await kube?.delete({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: crdName });
});

describe('kube client on the lab apiserver', () => {
  it('server-side applies a multi-document manifest in dependency order, as capi-mgmt', async () => {
    const applied = await kube.apply(objects(), { log });
    expect(applied.map((o) => o.kind)).toEqual([
      'Namespace',
      'CustomResourceDefinition',
      'ConfigMap',
      'Deployment',
      'Widget',
    ]);
    const widget = await kube.get({ apiVersion: `${group}/v1`, kind: 'Widget', name: 'w1', namespace: ns });
    expect(widget?.spec).toEqual({ size: 3 });
    const managers = (widget!.metadata.managedFields as Array<{ manager: string; operation: string }>).map((f) => [
      f.manager,
      f.operation,
    ]);
    expect(managers).toContainEqual([FIELD_MANAGER, 'Apply']);
    expect((await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', namespace: ns }))?.data).toEqual({
      mode: 'fast',
    });
    expect(await kube.serverVersion()).toMatch(/^v1\.\d+\.\d+/);
  });

  it('waits for CRDs Established and Deployments Available (kwok runs the pods)', async () => {
    await kube.waitForCrdsEstablished([crdName], { timeoutMs: 30_000, log });
    await kube.waitForDeploymentsAvailable([{ namespace: ns, name: 'web' }], { timeoutMs: 120_000, log });
    expect(lines).toContain(`Deployment ${ns}/web is Available`);
  });

  it('waits for any condition on any object, through a watch', async () => {
    const ref = { apiVersion: `${group}/v1`, kind: 'Widget', name: 'w1', namespace: ns };
    const waiting = kube.waitForCondition(ref, 'Ready', { timeoutMs: 30_000, log });
    await new Promise((r) => setTimeout(r, 500));
    await patchStatus(ref);
    const w = await waiting;
    expect(w.status).toMatchObject({ conditions: [{ type: 'Ready', status: 'True' }] });
  });

  it('times out with the last seen state and prints progress lines', async () => {
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', namespace: ns };
    lines.length = 0;
    await expect(
      kube.waitForCondition(ref, 'Never', { timeoutMs: 2500, progressMs: 1000, log }),
    ).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(lines.some((l) => l.startsWith(`still waiting for ConfigMap ${ns}/settings to have Never=True`))).toBe(true);
  });

  it('diffs by server-side dry run: unchanged, update with paths, create', async () => {
    const same = await kube.diff(objects());
    expect(same.every((d) => d.action === 'unchanged')).toBe(true);
    const changed = objects({ MODE: 'slow', IMAGE: 'registry.invalid/web:2' });
    changed.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'extra', namespace: ns }, data: {} });
    const diffs = await kube.diff(changed);
    const by = Object.fromEntries(diffs.map((d) => [`${d.ref.kind}/${d.ref.name}`, d]));
    expect(by['ConfigMap/settings']).toMatchObject({ action: 'update', paths: ['data.mode'] });
    expect(by['Deployment/web']).toMatchObject({ action: 'update', paths: ['spec.template.spec.containers[0].image'] });
    expect(by['ConfigMap/extra']).toMatchObject({ action: 'create' });
    expect(by['Widget/w1']!.action).toBe('unchanged');
    // The dry run changed nothing.
    expect((await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', namespace: ns }))?.data).toEqual({
      mode: 'fast',
    });
    expect(await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'extra', namespace: ns })).toBeUndefined();
  });

  it('does not take fields another manager owns unless forced', async () => {
    await raw.patch(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns }, data: { mode: 'manual' } },
      undefined,
      undefined,
      'someone-else',
      true,
      PatchStrategy.ServerSideApply,
    );
    await expect(kube.apply(objects())).rejects.toThrow(/apply ConfigMap .*settings: HTTP 409/);
    await kube.apply(objects(), { force: true });
    expect((await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', namespace: ns }))?.data).toEqual({
      mode: 'fast',
    });
  });

  it('deletes, and reports whether the object was there', async () => {
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', namespace: ns };
    expect(await kube.delete(ref)).toBe(true);
    expect(await kube.delete(ref)).toBe(false);
    expect(await kube.get({ apiVersion: 'nope.example/v1', kind: 'Nothing', name: 'x' })).toBeUndefined();
  });
});

/** Set a Ready condition through the status subresource, as a controller would. */
async function patchStatus(ref: { apiVersion: string; kind: string; name: string; namespace: string }): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(labKubeconfig('seed'));
  const body = {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, namespace: ref.namespace },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
  const url = `${kc.getCurrentCluster()!.server}/apis/${ref.apiVersion}/namespaces/${ref.namespace}/widgets/${ref.name}/status?fieldManager=test-controller&force=true`;
  const opts: { headers?: Record<string, string> } & Record<string, unknown> = {};
  await kc.applyToHTTPSOptions(opts);
  const { request } = await import('node:https');
  await new Promise<void>((ok, fail) => {
    const req = request(
      url,
      { ...opts, method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml' } },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? ok() : fail(new ApiException(res.statusCode ?? 0, 'status patch failed', '', {})),
        );
      },
    );
    req.on('error', fail);
    req.end(JSON.stringify(body));
  });
}

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKubeClient,
  FIELD_MANAGER,
  KubeConflictError,
  KubeNotFoundError,
  parseKubeconfig,
  parseManifests,
  substituteVariables,
  withToken,
  type KubeClient,
  type KubeObject,
  type WatchEvent,
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
const lines: string[] = [];
const log = (m: string): void => void lines.push(m);

function objects(vars: Record<string, string> = {}): KubeObject[] {
  return parseManifests(substituteVariables(MANIFEST, { IMAGE: 'registry.invalid/web:1', ...vars }));
}

beforeAll(() => {
  kube = createKubeClient(labKubeconfig('seed'));
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
    await kube.patch(
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', namespace: ns },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns }, data: { mode: 'manual' } },
      { type: 'apply', fieldManager: 'someone-else', force: true },
    );
    const refused = kube.apply(objects());
    await expect(refused).rejects.toBeInstanceOf(KubeConflictError);
    await expect(refused).rejects.toThrow(
      /^apply ConfigMap .*settings: HTTP 409 Conflict: Apply failed with 1 conflict/,
    );
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

describe('kube client writes with preconditions, subresources, tokens, watches, raw requests', () => {
  const rw = `${ns}-rw`;
  const cm = (name: string, data: Record<string, string>, resourceVersion?: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: rw, ...(resourceVersion ? { resourceVersion } : {}) },
    data,
  });
  const ref = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', name, namespace: rw });

  beforeAll(async () => {
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: rw } });
  });
  afterAll(async () => {
    await kube?.delete({ apiVersion: 'v1', kind: 'Namespace', name: rw });
  });

  it('creates once, then replaces only from the current resourceVersion (409 typed conflict)', async () => {
    const created = await kube.create(cm('cas', { v: '1' }));
    const v1 = created.metadata.resourceVersion!;
    expect(v1).toMatch(/^\d+$/);
    const again = await kube.create(cm('cas', { v: 'x' })).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(KubeConflictError);
    expect(again).toMatchObject({ status: 409, reason: 'AlreadyExists', verb: 'create' });

    const replaced = await kube.replace(cm('cas', { v: '2' }, v1));
    expect(replaced.data).toEqual({ v: '2' });
    const stale = await kube.replace(cm('cas', { v: '3' }, v1)).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(KubeConflictError);
    expect(stale).toMatchObject({ reason: 'Conflict', target: `ConfigMap ${rw}/cas` });
    expect((stale as Error).message).toMatch(/the object has been modified/);
    expect((await kube.get(ref('cas')))?.data).toEqual({ v: '2' });
  });

  it('patches by merge, strategic merge, JSON patch and apply, each refusing a stale resourceVersion', async () => {
    const start = await kube.create(cm('patched', { a: '1' }));
    const stale = start.metadata.resourceVersion!;
    let rv = stale;
    const steps: Array<[Parameters<KubeClient['patch']>[2]['type'], unknown, Record<string, string>]> = [
      ['merge', { data: { b: '2' } }, { a: '1', b: '2' }],
      ['strategic', { data: { c: '3' } }, { a: '1', b: '2', c: '3' }],
      ['json', [{ op: 'replace', path: '/data/a', value: '0' }], { a: '0', b: '2', c: '3' }],
      [
        'apply',
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'patched', namespace: rw }, data: { d: '4' } },
        { a: '0', b: '2', c: '3', d: '4' },
      ],
    ];
    for (const [type, body, want] of steps) {
      const out = await kube.patch(ref('patched'), body, { type, resourceVersion: rv });
      expect(out.data, type).toEqual(want);
      const refused = await kube.patch(ref('patched'), body, { type, resourceVersion: stale }).catch((e: unknown) => e);
      expect(refused, type).toBeInstanceOf(KubeConflictError);
      expect((await kube.get(ref('patched')))?.metadata.resourceVersion, type).toBe(out.metadata.resourceVersion);
      rv = out.metadata.resourceVersion!;
    }
    // No precondition: last writer wins.
    expect((await kube.patch(ref('patched'), { data: { e: '5' } }, { type: 'merge' })).data).toMatchObject({ e: '5' });
  });

  it('deletes only from the current resourceVersion when asked to', async () => {
    const o = await kube.create(cm('gone', {}));
    const v1 = o.metadata.resourceVersion!;
    const v2 = (await kube.patch(ref('gone'), { data: { x: '1' } }, { type: 'merge' })).metadata.resourceVersion!;
    await expect(kube.delete(ref('gone'), { resourceVersion: v1 })).rejects.toBeInstanceOf(KubeConflictError);
    expect(await kube.get(ref('gone'))).toBeDefined();
    expect(await kube.delete(ref('gone'), { resourceVersion: v2 })).toBe(true);
    expect(await kube.delete(ref('gone'), { resourceVersion: v2 })).toBe(false);
  });

  it('writes the status subresource without touching spec, and the main resource ignores status', async () => {
    const wref = { apiVersion: `${group}/v1`, kind: 'Widget', name: 'status-w', namespace: rw };
    const w = await kube.create({
      apiVersion: wref.apiVersion,
      kind: 'Widget',
      metadata: { name: wref.name, namespace: rw },
      spec: { size: 1 },
    });
    const viaMain = await kube.replace({ ...w, spec: { size: 2 }, status: { phase: 'ignored' } });
    expect(viaMain.spec).toEqual({ size: 2 });
    expect(viaMain.status).toBeUndefined();
    const withStatus = await kube.replaceStatus({ ...viaMain, spec: { size: 99 }, status: { phase: 'Ready' } });
    expect(withStatus.status).toEqual({ phase: 'Ready' });
    expect(withStatus.spec).toEqual({ size: 2 });
    // The version read before the status write is stale now.
    await expect(kube.replaceStatus({ ...viaMain, status: { phase: 'Old' } })).rejects.toBeInstanceOf(
      KubeConflictError,
    );
    const merged = await kube.patch(wref, { status: { observed: 2 } }, { type: 'merge', subresource: 'status' });
    expect(merged.status).toEqual({ phase: 'Ready', observed: 2 });
    expect((await kube.get(wref))?.status).toEqual({ phase: 'Ready', observed: 2 });
  });

  it('requests a ServiceAccount token that authenticates as that ServiceAccount', async () => {
    await kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: rw } });
    const before = Date.now();
    const { token, expiresAt } = await kube.createToken({ namespace: rw, name: 'robot' }, { expirationSeconds: 600 });
    expect(token.split('.')).toHaveLength(3);
    expect(expiresAt.getTime()).toBeGreaterThan(before + 500_000);
    expect(expiresAt.getTime()).toBeLessThan(before + 700_000);
    const asRobot = createKubeClient(withToken(parseKubeconfig(labKubeconfig('seed')), token));
    const review = await asRobot.request({
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(review.status).toBe(201);
    expect(review.body).toMatchObject({ status: { userInfo: { username: `system:serviceaccount:${rw}:robot` } } });
    // RBAC applies to the token: the robot may not read ConfigMaps.
    const denied = await asRobot.get(ref('cas')).catch((e: unknown) => e);
    expect(denied).toMatchObject({ status: 403, reason: 'Forbidden', verb: 'read' });
    await expect(kube.createToken({ namespace: rw, name: 'nobody' })).rejects.toBeInstanceOf(KubeNotFoundError);
  });

  it('lists with a resourceVersion and watches every change after it, in order', async () => {
    const { items, resourceVersion } = await kube.listWithVersion('v1', 'ConfigMap', {
      namespace: rw,
      labelSelector: 'watched=yes',
    });
    expect(items).toEqual([]);
    expect(resourceVersion).toMatch(/^\d+$/);
    const stop = new AbortController();
    const seen: WatchEvent[] = [];
    const watching = (async () => {
      for await (const ev of kube.watch(
        { apiVersion: 'v1', kind: 'ConfigMap', namespace: rw },
        {
          labelSelector: 'watched=yes',
          resourceVersion,
          signal: stop.signal,
        },
      )) {
        if (ev.type === 'BOOKMARK') continue;
        seen.push(ev);
        if (ev.type === 'DELETED') stop.abort();
      }
    })();
    // Written after the list: the watch from its version sees all of them, even if it opens later.
    const labelled = { ...cm('w', { n: '1' }), metadata: { name: 'w', namespace: rw, labels: { watched: 'yes' } } };
    await kube.create(labelled);
    await kube.patch(ref('w'), { data: { n: '2' } }, { type: 'merge' });
    await kube.delete(ref('w'));
    await watching;
    expect(seen.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(seen.map((e) => (e.type === 'BOOKMARK' ? undefined : e.object.data))).toEqual([
      { n: '1' },
      { n: '2' },
      { n: '2' },
    ]);
  });

  it('ends a watch when the server closes it (timeoutSeconds)', async () => {
    const t0 = Date.now();
    const events: string[] = [];
    for await (const ev of kube.watch({ apiVersion: 'v1', kind: 'ConfigMap', namespace: rw }, { timeoutSeconds: 1 })) {
      events.push(ev.type);
    }
    expect(Date.now() - t0).toBeLessThan(10_000);
    // Without a resourceVersion the watch starts with the current objects.
    expect(events).toContain('ADDED');
  });

  it('sends raw requests and returns any status with the parsed body', async () => {
    const found = await kube.request({ method: 'GET', path: `/api/v1/namespaces/${rw}/configmaps/cas` });
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ kind: 'ConfigMap', data: { v: '2' } });
    const missing = await kube.request({ method: 'GET', path: `/api/v1/namespaces/${rw}/configmaps/none` });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ kind: 'Status', reason: 'NotFound' });
    const listed = await kube.request({
      method: 'GET',
      path: `/api/v1/namespaces/${rw}/configmaps`,
      query: { fieldSelector: 'metadata.name=cas', limit: 5 },
    });
    expect((listed.body as { items: KubeObject[] }).items.map((i) => i.metadata.name)).toEqual(['cas']);
    const health = await kube.request({ method: 'GET', path: '/readyz' });
    expect(health).toMatchObject({ status: 200, body: 'ok' });
  });
});

/** Set a Ready condition through the status subresource, as a controller would. */
async function patchStatus(ref: { apiVersion: string; kind: string; name: string; namespace: string }): Promise<void> {
  const body = {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, namespace: ref.namespace },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
  await kube.patch(ref, body, { type: 'apply', subresource: 'status', fieldManager: 'test-controller', force: true });
}

import { describe, expect, it } from 'vitest';
import { changedPaths, deploymentRolledOut, normalizeForDiff } from '../../src/kube/compare.js';
import { applyOrder, parseManifests, type KubeObject } from '../../src/kube/objects.js';
import { listVariables, MissingVariablesError, substituteVariables } from '../../src/kube/substitute.js';

describe('substituteVariables (clusterctl syntax)', () => {
  it('replaces set variables and applies := / = defaults the clusterctl way', () => {
    const text = 'a=${A} b=${B:=bee} c=${C=cee} d=${D:=dee} e=${E=eee} f=${F:-eff}';
    expect(substituteVariables(text, { A: 'x', B: 'set', D: '', E: '' })).toBe('a=x b=set c=cee d=dee e= f=eff');
  });

  it('leaves bare $VAR alone (shell snippets in manifests)', () => {
    expect(substituteVariables('echo $HOME ${X:=1}', {})).toBe('echo $HOME 1');
  });

  it('names every missing variable without a default', () => {
    const err = (() => {
      try {
        substituteVariables('${B} ${A} ${B} ${C:=ok}', {});
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(MissingVariablesError);
    expect((err as MissingVariablesError).names).toEqual(['A', 'B']);
    expect((err as Error).message).toMatch(/A, B/);
  });

  it('lists variables and whether they have defaults', () => {
    expect([...listVariables('${A} ${B:=x} ${A=y}')]).toEqual([
      ['A', { hasDefault: true }],
      ['B', { hasDefault: true }],
    ]);
    expect(listVariables('${Z}').get('Z')).toEqual({ hasDefault: false });
  });
});

describe('parseManifests and applyOrder', () => {
  const text = `
# comment only
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns}
---
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Namespace, metadata: {name: ns}}
  - {apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: ns}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: v}
`;

  it('skips empty documents and flattens Lists', () => {
    expect(parseManifests(text).map((o) => o.kind)).toEqual([
      'Deployment',
      'Namespace',
      'Widget',
      'CustomResourceDefinition',
      'ValidatingWebhookConfiguration',
    ]);
  });

  it('orders namespaces and CRDs first, custom resources after workloads, webhooks last', () => {
    expect(applyOrder(parseManifests(text)).map((o) => o.kind)).toEqual([
      'Namespace',
      'CustomResourceDefinition',
      'Deployment',
      'Widget',
      'ValidatingWebhookConfiguration',
    ]);
  });

  it('rejects a document that is not an object, naming it', () => {
    expect(() => parseManifests('apiVersion: v1\nkind: A\n---\n- a list\n', 'x.yaml')).toThrow(/x.yaml: document 2/);
  });
});

describe('diff normalisation', () => {
  it('ignores server-owned noise and finds real differences', () => {
    const live: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', resourceVersion: '1', generation: 1, managedFields: [{}], uid: 'u' },
      data: { a: '1', b: '2' },
      status: { x: 1 },
    };
    const would: KubeObject = {
      ...live,
      metadata: { ...live.metadata, resourceVersion: '2', generation: 2, managedFields: [] },
      status: { x: 2 },
    };
    expect(changedPaths(normalizeForDiff(live), normalizeForDiff(would))).toEqual([]);
    const changed = { ...would, data: { a: '1', b: '3' } };
    expect(changedPaths(normalizeForDiff(live), normalizeForDiff(changed))).toEqual(['data.b']);
  });

  it('sees a Deployment as rolled out only once updated replicas are available', () => {
    const d = (status: Record<string, unknown>, generation = 2): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', generation },
      spec: { replicas: 1 },
      status,
    });
    const available = { type: 'Available', status: 'True' };
    expect(
      deploymentRolledOut(
        d({ observedGeneration: 1, updatedReplicas: 1, replicas: 1, availableReplicas: 1, conditions: [available] }),
      ),
    ).toBe(false);
    expect(
      deploymentRolledOut(
        d({ observedGeneration: 2, updatedReplicas: 1, replicas: 2, availableReplicas: 1, conditions: [available] }),
      ),
    ).toBe(false);
    expect(
      deploymentRolledOut(
        d({ observedGeneration: 2, updatedReplicas: 1, replicas: 1, availableReplicas: 1, conditions: [available] }),
      ),
    ).toBe(true);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyComponents, applySteps } from '../../src/components/apply.js';
import { diffComponent, diffComponentSet, valuesDigest } from '../../src/components/diff.js';
import { observeComponents, type ObservedComponent } from '../../src/components/observe.js';
import { COMPONENT_LABEL, VERSION_ANNOTATION } from '../../src/components/stamp.js';
import type { Target } from '../../src/components/target.js';
import { checkComponents, type Component } from '../../src/components/types.js';
import type { Logger } from '../../src/engine/types.js';
import type { KubeObject, ObjectRef } from '../../src/kube/index.js';
import type { Change } from '../../src/plan/plan.js';

const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'demo' },
  data,
});

const chart: Component = {
  kind: 'chart',
  source: 'velero',
  address: 'release/velero',
  title: 'Velero',
  version: '12.1.0',
  release: 'velero',
  namespace: 'velero',
  values: { configuration: { features: 'EnableCSI' } },
  atomic: false,
  timeoutMs: 60_000,
  controllers: [{ namespace: 'velero', name: 'velero' }],
  crds: ['schedules.velero.io'],
};
const manifest: Component = {
  kind: 'manifest',
  source: 'orc',
  address: 'provider/orc',
  title: 'ORC',
  version: 'v2.6.0',
  render: (text) => [cm('orc', { text })],
  controllers: [],
};
const objects: Component = {
  kind: 'objects',
  address: 'objects/schedule',
  title: 'backup schedule',
  objects: [cm('a', { x: '1' }), cm('b')],
  controllers: [],
};
const absent: Component = {
  kind: 'absent',
  address: 'webhook/old',
  title: 'old webhook',
  ref: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', name: 'old' },
  reason: 'nothing serves it',
};
const SET = [chart, manifest, objects, absent];

describe('diffComponent', () => {
  it('plans create for everything missing, and nothing for an absent object that is absent', () => {
    expect(diffComponent('s', chart, undefined)).toMatchObject({
      layer: 's',
      action: 'create',
      after: { chart: 'velero', version: '12.1.0', namespace: 'velero', values: valuesDigest(chart.values) },
      reason: 'release velero/velero is not installed',
    });
    expect(diffComponent('s', manifest, undefined)).toMatchObject({ action: 'create', after: { version: 'v2.6.0' } });
    expect(diffComponent('s', objects, undefined)).toMatchObject({
      action: 'create',
      after: { objects: ['ConfigMap demo/a', 'ConfigMap demo/b'] },
    });
    expect(diffComponent('s', absent, { kind: 'absent', exists: false })).toBeUndefined();
    expect(diffComponent('s', absent, undefined)).toBeUndefined();
  });

  it('treats observed state of another kind as not found', () => {
    const wrong: ObservedComponent = { kind: 'absent', exists: true };
    expect(diffComponent('s', chart, wrong)?.action).toBe('create');
    expect(diffComponent('s', manifest, wrong)?.action).toBe('create');
  });

  it('plain objects: all missing is create, some missing or drifted is update naming paths, else no-op', () => {
    const seen = (missing: string[], drift: string[]): ObservedComponent => ({
      kind: 'objects',
      missing,
      drift,
      unavailable: [],
    });
    expect(diffComponent('s', objects, seen(['ConfigMap demo/a', 'ConfigMap demo/b'], []))?.action).toBe('create');
    expect(diffComponent('s', objects, seen(['ConfigMap demo/b'], ['ConfigMap demo/a: data.x']))).toMatchObject({
      action: 'update',
      before: { objects: ['ConfigMap demo/a'] },
      reason: 'missing: ConfigMap demo/b; drifted: ConfigMap demo/a: data.x',
    });
    expect(diffComponent('s', objects, seen([], []))).toMatchObject({
      action: 'no-op',
      before: { objects: ['ConfigMap demo/a', 'ConfigMap demo/b'] },
    });
  });

  it('never puts values or object contents into the plan', () => {
    const secret: Component = {
      ...objects,
      objects: [
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'demo' }, stringData: { k: 'hunter2' } },
      ],
    };
    const withSecret = { ...chart, values: { credentials: 'hunter2' } } as Component;
    const text = JSON.stringify([diffComponent('s', secret, undefined), diffComponent('s', withSecret, undefined)]);
    expect(text).not.toContain('hunter2');
  });

  it('deletes an absent object that exists, with the declared reason', () => {
    expect(diffComponent('s', absent, { kind: 'absent', exists: true })).toEqual({
      layer: 's',
      address: 'webhook/old',
      action: 'delete',
      before: { exists: true },
      reason: 'nothing serves it',
    });
  });
});

describe('diffComponentSet', () => {
  it('notes an unreachable target in the words the set gives, and plans from desired state', () => {
    const d = diffComponentSet({ name: 'platform', target: 'the management cluster' }, SET, {
      reachable: false,
      components: {},
    });
    expect(d.notes).toEqual(['platform: the management cluster is not reachable yet; planned from desired state']);
    expect(d.changes.map((c) => [c.layer, c.address, c.action])).toEqual([
      ['platform', 'release/velero', 'create'],
      ['platform', 'provider/orc', 'create'],
      ['platform', 'objects/schedule', 'create'],
    ]);
  });

  it('notes components whose controllers or CRDs are not ready', () => {
    const d = diffComponentSet({ name: 'p', target: 't' }, [chart], {
      reachable: true,
      components: {
        'release/velero': {
          kind: 'chart',
          installed: true,
          version: '12.1.0',
          status: 'deployed',
          values: chart.kind === 'chart' ? chart.values : {},
          unavailable: ['velero/velero (0/1 available)', 'CustomResourceDefinition schedules.velero.io'],
        },
      },
    });
    expect(d.changes.map((c) => c.action)).toEqual(['no-op']);
    expect(d.notes).toEqual([
      'p: Velero: not Available: velero/velero (0/1 available), CustomResourceDefinition schedules.velero.io',
    ]);
  });
});

describe('checkComponents', () => {
  it('refuses a set that declares an address twice', () => {
    expect(() => checkComponents('p', [chart, { ...objects, address: 'release/velero' }])).toThrow(
      'component set p: address release/velero is declared twice',
    );
    expect(() => checkComponents('p', SET)).not.toThrow();
  });
});

const change = (address: string, action: Change['action']): Change => ({ layer: 'p', address, action });

describe('applySteps', () => {
  it('follows the declared order, whatever the order of the changes, and skips no-ops', () => {
    const items = applySteps('p', SET, [
      change('webhook/old', 'delete'),
      change('objects/schedule', 'update'),
      change('provider/orc', 'no-op'),
      change('release/velero', 'create'),
    ]);
    expect(items.map((i) => [i.address, i.group, i.steps.map((s) => s.kind)])).toEqual([
      ['release/velero', 'p: Velero 12.1.0', ['install-chart', 'wait-crds', 'wait-deployments']],
      ['objects/schedule', 'p: backup schedule', ['apply-objects']],
      ['webhook/old', undefined, ['delete']],
    ]);
  });

  it('waits for CRDs before controllers, with the declared names', () => {
    const [item] = applySteps('p', SET, [change('release/velero', 'update')]);
    expect(item!.steps.slice(1)).toEqual([
      { kind: 'wait-crds', names: ['schedules.velero.io'] },
      { kind: 'wait-deployments', refs: [{ namespace: 'velero', name: 'velero' }] },
    ]);
  });

  it('refuses changes for addresses the set does not declare', () => {
    expect(() => applySteps('p', SET, [change('release/other', 'create')])).toThrow(
      'p: the plan has changes for release/other, which this component set does not declare',
    );
  });
});

/** A target that records each call in order and answers from a small in-memory store. */
function recordingTarget(o: { helmMs?: number; live?: KubeObject[] } = {}) {
  const calls: string[] = [];
  const applied: KubeObject[] = [];
  const key = (r: ObjectRef): string => `${r.kind} ${r.namespace ?? ''}/${r.name}`;
  const live = new Map((o.live ?? []).map((x) => [key({ ...x.metadata, kind: x.kind } as ObjectRef), x]));
  const target: Target = {
    kube: {
      get: async (ref) => {
        calls.push(`get ${key(ref)}`);
        return live.get(key(ref));
      },
      apply: async (objs) => {
        calls.push(`apply ${objs.map((x) => x.metadata.name).join(',')}`);
        applied.push(...objs);
        return [...objs];
      },
      diff: async (objs) =>
        objs.map((x) => {
          const ref = {
            apiVersion: x.apiVersion,
            kind: x.kind,
            name: x.metadata.name!,
            namespace: x.metadata.namespace,
          };
          const was = live.get(key(ref));
          if (!was) return { ref, action: 'create' as const };
          return JSON.stringify(was.data) === JSON.stringify(x.data)
            ? { ref, action: 'unchanged' as const }
            : { ref, action: 'update' as const, paths: ['data'] };
        }),
      delete: async (ref) => {
        calls.push(`delete ${key(ref)}`);
        return true;
      },
      waitForCrdsEstablished: async (names) => void calls.push(`wait crds ${names.join(',')}`),
      waitForDeploymentsAvailable: async (refs) =>
        void calls.push(`wait deployments ${refs.map((r) => `${r.namespace}/${r.name}`).join(',')}`),
    },
    helm: {
      status: async () => undefined,
      getValues: async () => ({}),
      upgradeInstall: async (u) => {
        calls.push(
          `helm ${u.namespace}/${u.release} ${u.chart.kind === 'repo' ? `${u.chart.repo} ${u.chart.name}` : ''}`,
        );
        await new Promise((r) => setTimeout(r, o.helmMs ?? 0));
        return {
          name: u.release,
          namespace: u.namespace,
          revision: 1,
          status: 'deployed',
          chart: 'x',
          chartVersion: 'x',
          appVersion: 'x',
        };
      },
    },
    sources: {
      manifest: async (source, version) => {
        calls.push(`fetch ${source} ${version}`);
        return `published ${source}`;
      },
      chart: (source) => ({ repo: 'https://charts.example', chart: source }),
    },
  };
  return { target, calls, applied };
}

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(`warning: ${m}`),
    debug: () => {},
    group: async (name, fn) => {
      lines.push(`[${name}]`);
      return fn();
    },
  };
}

describe('applyComponents', () => {
  it('executes the steps in order: install, CRDs Established, controllers Available, next component', async () => {
    const { target, calls, applied } = recordingTarget();
    const log = memoryLog();
    const all = SET.map((c) => change(c.address, 'create'));
    await applyComponents('p', SET, all, target, log);
    expect(calls).toEqual([
      'helm velero/velero https://charts.example velero',
      'wait crds schedules.velero.io',
      'wait deployments velero/velero',
      'fetch orc v2.6.0',
      'apply orc',
      'apply a,b',
      'delete MutatingWebhookConfiguration /old',
    ]);
    // Manifest objects carry the source and version stamp that observe reads back.
    const orc = applied.find((x) => x.metadata.name === 'orc')!;
    expect(orc.metadata.labels?.[COMPONENT_LABEL]).toBe('orc');
    expect(orc.metadata.annotations?.[VERSION_ANNOTATION]).toBe('v2.6.0');
    expect(log.lines).toContain('[p: Velero 12.1.0]');
    expect(log.lines).toContain('deleted MutatingWebhookConfiguration old');
  });

  it('prints progress lines while helm works', async () => {
    const { target } = recordingTarget({ helmMs: 120 });
    const log = memoryLog();
    await applyComponents(
      'p',
      [{ ...chart, crds: [], controllers: [] }],
      [change('release/velero', 'update')],
      target,
      log,
      {
        progressMs: 25,
      },
    );
    expect(log.lines.filter((l) => l.startsWith('still installing release velero/velero ('))).not.toHaveLength(0);
  });
});

describe('observeComponents', () => {
  it('reads nothing without a target', async () => {
    expect(await observeComponents(SET, undefined, memoryLog())).toEqual({ reachable: false, components: {} });
  });

  it('classifies plain objects as missing or drifted, and absent ones as existing', async () => {
    const { target } = recordingTarget({
      live: [
        cm('a', { x: 'edited' }),
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'MutatingWebhookConfiguration',
          metadata: { name: 'old' },
        },
      ],
    });
    const seen = await observeComponents([objects, absent], target, memoryLog());
    expect(seen.components).toEqual({
      'objects/schedule': {
        kind: 'objects',
        missing: ['ConfigMap demo/b'],
        drift: ['ConfigMap demo/a: data'],
        unavailable: [],
      },
      'webhook/old': { kind: 'absent', exists: true },
    });
  });
});

describe('src/components', () => {
  it('knows no particular cluster: nothing in it names the seed', () => {
    const dir = join(import.meta.dirname, '../../src/components');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8'), f).not.toMatch(/seed/i);
  });
});

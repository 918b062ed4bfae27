import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/index.js';
import { pendingOf, progressLine, stateOf, type ClusterState } from '../../src/layers/cluster/health.js';
import { ClusterWaitTimeout, waitForCluster } from '../../src/layers/cluster/wait.js';

const READY = [
  { type: 'Available', status: 'True' },
  { type: 'RollingOut', status: 'False' },
  { type: 'ControlPlaneMachinesUpToDate', status: 'True' },
  { type: 'ControlPlaneAvailable', status: 'True' },
  { type: 'WorkerMachinesUpToDate', status: 'True' },
  { type: 'WorkersAvailable', status: 'True' },
];

const obj = (kind: string, name: string, status: unknown, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'x/v1',
  kind,
  metadata: { name, ...(extra.metadata ?? {}) },
  status,
  ...(extra.spec ? { spec: extra.spec } : {}),
});

const healthy = (): ClusterState =>
  stateOf({
    cluster: obj('Cluster', 'c', { conditions: READY, phase: 'Provisioned' }),
    machineDeployments: [obj('MachineDeployment', 'c-md-0', { phase: 'Running', replicas: 1, readyReplicas: 1 })],
    machines: [
      obj(
        'Machine',
        'c-cp-1',
        { phase: 'Running' },
        { metadata: { name: 'c-cp-1', labels: { 'cluster.x-k8s.io/control-plane': '' } } },
      ),
      obj('Machine', 'c-md-0-x', { phase: 'Running' }),
    ],
    addons: [obj('HelmRelease', 'c-kube-prometheus-stack', { phase: 'Deployed' })],
  });

describe('cluster health', () => {
  it('is ready when every condition, MachineDeployment and addon is as azimuth waits for', () => {
    expect(pendingOf(healthy())).toEqual([]);
    expect(progressLine(healthy())).toBe(
      'machines: 1 control-plane Running, 1 worker Running; conditions met; addons 1/1 Deployed',
    );
  });

  it('names each condition still wrong with the controller reason and message', () => {
    const s = healthy();
    s.cluster!.conditions = READY.map((c) =>
      c.type === 'RollingOut'
        ? { type: 'RollingOut', status: 'True', reason: 'RollingOut', message: 'Rolling out 1 Machine' }
        : c.type === 'WorkersAvailable'
          ? { ...c, status: 'False', reason: 'NotAvailable', message: '0 available replicas, at least 1 required' }
          : c,
    );
    s.machineDeployments[0]!.phase = 'ScalingUp';
    s.addons[0]!.phase = 'Installing';
    expect(pendingOf(s)).toEqual([
      {
        subject: 'Cluster condition RollingOut',
        expected: 'False',
        actual: 'True',
        detail: 'RollingOut: Rolling out 1 Machine',
      },
      {
        subject: 'Cluster condition WorkersAvailable',
        expected: 'True',
        actual: 'False',
        detail: 'NotAvailable: 0 available replicas, at least 1 required',
      },
      { subject: 'MachineDeployment c-md-0', expected: 'Running', actual: 'ScalingUp' },
      { subject: 'HelmRelease c-kube-prometheus-stack', expected: 'Deployed', actual: 'Installing' },
    ]);
  });

  it('treats a missing condition, a missing Cluster and a failed Machine as not ready', () => {
    const s = healthy();
    s.cluster!.conditions = s.cluster!.conditions.filter((c) => c.type !== 'Available');
    expect(pendingOf(s)[0]).toEqual({
      subject: 'Cluster condition Available',
      expected: 'True',
      actual: 'not reported',
    });
    expect(pendingOf({ ...s, cluster: undefined })).toEqual([
      { subject: 'Cluster', expected: 'exists', actual: 'absent' },
    ]);
    const failed = stateOf({
      cluster: obj('Cluster', 'c', { conditions: READY }),
      machineDeployments: [],
      machines: [obj('Machine', 'm', { phase: 'Failed', failureMessage: 'server went to ERROR' })],
      addons: [],
    });
    expect(pendingOf(failed)).toEqual([
      { subject: 'Machine m', expected: 'no failure', actual: 'failed', detail: 'server went to ERROR' },
    ]);
  });
});

describe('waiting for the cluster', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms), at: () => t };
  };

  it('prints one line per change of state and returns once healthy', async () => {
    const c = clock();
    const notYet = healthy();
    notYet.cluster!.conditions = [{ type: 'Available', status: 'False', reason: 'NotReady' }];
    const states = [notYet, notYet, notYet, healthy()];
    const lines: string[] = [];
    const got = await waitForCluster({
      read: async () => states.shift()!,
      timeoutMs: 60_000,
      log: (l) => lines.push(l),
      ...c,
    });
    expect(pendingOf(got)).toEqual([]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^cluster: machines: .*Available=False \(NotReady\)/);
    expect(lines[1]).toMatch(/conditions met/);
  });

  it('backs off while nothing changes, and on timeout lists what is still pending', async () => {
    const c = clock();
    const stuck = healthy();
    stuck.cluster!.conditions = [
      { type: 'Available', status: 'False', reason: 'WaitingForControlPlane', message: 'no etcd' },
    ];
    const sleeps: number[] = [];
    const err = await waitForCluster({
      read: async () => stuck,
      timeoutMs: 120_000,
      log: () => {},
      now: c.now,
      sleep: async (ms) => {
        sleeps.push(ms);
        await c.sleep(ms);
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterWaitTimeout);
    expect((err as Error).message).toContain(
      'Cluster condition Available: False, expected True (WaitingForControlPlane: no etcd)',
    );
    expect((err as Error).message).toContain('Cluster condition RollingOut: not reported, expected False');
    expect(sleeps[0]).toBe(1000);
    expect(Math.max(...sleeps)).toBe(10_000);
    expect(c.at()).toBe(120_000);
  });

  it('retries read errors until the deadline and reports the last one', async () => {
    const c = clock();
    const err = await waitForCluster({
      read: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      timeoutMs: 5000,
      log: () => {},
      ...c,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('Cluster: connect ECONNREFUSED, expected readable');
  });
});

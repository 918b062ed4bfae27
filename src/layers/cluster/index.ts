/**
 * Layer `cluster`: the HA management cluster, made by Cluster API on the
 * seed from the openstack-cluster chart (release `capi-mgmt-<env>` in
 * `default`, as azimuth names it, so an azimuth site is adopted), waited for
 * as azimuth waits, and its token kubeconfig handed on.
 */
import type { Layer, LayerContext } from '../../engine/types.js';
import { createHelm, type Helm, type ReleaseInfo } from '../../helm/index.js';
import { apiAddressOf, createKubeClient, forTunnel, stringifyKubeconfig, type KubeClient } from '../../kube/index.js';
import type { Desired } from '../../model/desired.js';
import { createOpenStackClient, type RestOpenStackClient } from '../../openstack/client.js';
import type { Change } from '../../plan/plan.js';
import { createToolbox, type Toolbox } from '../../tools/index.js';
import { seedInfraOutputs } from '../seed-infra/outputs.js';
import { seedK3sOutputs, type SeedK3sOutputs } from '../seed-k3s/outputs.js';
import { cloudFacts } from './cloud.js';
import { pendingOf, type ClusterState } from './health.js';
import { ensureToken, readCertKubeconfig, readToken, tokenKubeconfig } from './kubeconfig.js';
import { clusterOutputs, type ClusterOutputs } from './outputs.js';
import { preflight, type PreflightCloud } from './preflight.js';
import { readClusterState, RELEASE_NAMESPACE } from './read.js';
import { clusterValues, type ClusterValues, type SeedFacts } from './values.js';
import { diffValues, renderValuesDiff } from './values-diff.js';
import { waitForCluster } from './wait.js';

const LAYER = 'cluster';

export interface ClusterObserved {
  /** False while the seed's API is not there (nothing to read: the plan comes from desired state). */
  seed: boolean;
  release?: { info: ReleaseInfo; values: Record<string, unknown> };
  state?: ClusterState;
  /** The values apply would install, from desired state and what the seed layers found. */
  desired: ClusterValues;
  chart: ChartChoice;
}

interface ChartChoice {
  repo: string;
  name: string;
  version: string;
}

export interface ClusterLayerDeps {
  openstack?: (ctx: LayerContext) => PreflightCloud & Pick<RestOpenStackClient, 'session'>;
  toolbox?: (ctx: LayerContext) => Toolbox;
  helm?: (binary: string, kubeconfig: string, ctx: LayerContext) => Helm;
  kube?: (kubeconfig: string) => KubeClient;
  /** Shortens the waits in tests. */
  pollMs?: { min: number; max: number };
}

function chartOf(desired: Desired, toolbox: Toolbox): ChartChoice {
  const c = desired.config.cluster.chart;
  const version = c.version ?? desired.config.versions.openstackClusterChart;
  // A chart mirror replaces every upstream repository (as for the other charts).
  const repo = desired.config.mirrors.charts ? toolbox.chart('openstackCluster').repo : c.repo;
  return { repo, name: c.name, version };
}

const seedFactsOf = (ctx: LayerContext): SeedFacts => {
  const o = ctx.outputs.get(seedInfraOutputs);
  const facts: SeedFacts = {};
  if (o?.networkId) facts.networkId = o.networkId;
  if (o?.keypairName) facts.keypairName = o.keypairName;
  if (o?.flavorName) facts.flavorName = o.flavorName;
  if (o?.externalNetworkId) facts.externalNetworkId = o.externalNetworkId;
  return facts;
};

export function clusterLayer(deps: ClusterLayerDeps = {}): Layer<ClusterObserved, ClusterOutputs> {
  let openstack: (PreflightCloud & Pick<RestOpenStackClient, 'session'>) | undefined;
  const cloud = (ctx: LayerContext) =>
    (openstack ??=
      deps.openstack?.(ctx) ??
      createOpenStackClient(ctx.desired.config.openstack, ctx.desired.dir, { log: (m) => ctx.log.debug(m) }));
  const toolboxOf = (ctx: LayerContext): Toolbox =>
    deps.toolbox?.(ctx) ??
    createToolbox({
      mirrors: ctx.desired.config.mirrors,
      log: ctx.log,
      cache: ctx.dirs.toolCache,
      tempDir: ctx.dirs.temp,
    });

  /** helm and the seed's API, once per run and seed kubeconfig. */
  let seedTarget: { kubeconfig: string; helm: Promise<Helm>; kube: KubeClient } | undefined;
  const onSeed = (ctx: LayerContext, seed: SeedK3sOutputs) => {
    if (seedTarget?.kubeconfig !== seed.kubeconfig) {
      const helm = (async () => {
        const binary = await toolboxOf(ctx).helm(ctx.desired.config.versions.helm);
        return deps.helm
          ? deps.helm(binary, seed.kubeconfig, ctx)
          : createHelm({ binary, kubeconfig: seed.kubeconfig, log: ctx.log, tempDir: ctx.dirs.temp });
      })();
      seedTarget = { kubeconfig: seed.kubeconfig, helm, kube: (deps.kube ?? createKubeClient)(seed.kubeconfig) };
    }
    return seedTarget;
  };

  const desiredValues = async (ctx: LayerContext): Promise<ClusterValues> => {
    const v = clusterValues(ctx.desired, seedFactsOf(ctx), await cloudFacts(ctx.desired, cloud(ctx).session));
    for (const p of v.secretPaths) redactAt(ctx, v.values, p);
    return v;
  };

  /** The management cluster's API through the seed, with the token kubeconfig when it exists (or `create`). */
  const handOn = async (ctx: LayerContext, seed: SeedK3sOutputs, kube: KubeClient, create: boolean) => {
    const name = ctx.desired.clusterName;
    const cert = await readCertKubeconfig(kube, name);
    if (!cert) return undefined;
    const api = apiAddressOf(cert);
    const port = await seed.reach(api.host, api.port);
    const mgmt = (deps.kube ?? createKubeClient)(stringifyKubeconfig(forTunnel(cert, port)));
    const settings = ctx.desired.config.cluster.tokenKubeconfig;
    const token = create ? await ensureToken(mgmt, settings) : await readToken(mgmt, settings);
    if (!token) return undefined;
    ctx.redactor.add(token);
    const kubeconfig = tokenKubeconfig(cert, token, name);
    ctx.redactor.addDocument(kubeconfig);
    return kubeconfig;
  };

  return {
    name: LAYER,
    outputs: clusterOutputs,

    async observe(ctx) {
      const desired = await desiredValues(ctx);
      const chart = chartOf(ctx.desired, toolboxOf(ctx));
      const seed = ctx.outputs.get(seedK3sOutputs);
      if (!seed) return { seed: false, desired, chart };
      const t = onSeed(ctx, seed);
      const helm = await t.helm;
      const name = ctx.desired.clusterName;
      const info = await helm.status(name, RELEASE_NAMESPACE);
      const observed: ClusterObserved = { seed: true, desired, chart };
      if (info) observed.release = { info, values: await helm.getValues(name, RELEASE_NAMESPACE) };
      observed.state = await readClusterState(t.kube, name);
      if (observed.release && pendingOf(observed.state).length === 0) {
        const kubeconfig = await handOn(ctx, seed, t.kube, false);
        if (kubeconfig) ctx.publish(clusterOutputs, { kubeconfig });
      }
      return observed;
    },

    diff: (desired, observed) => diffCluster(desired, observed),

    async apply(changes, observed, ctx) {
      const seed = ctx.outputs.get(seedK3sOutputs);
      if (!seed) throw new Error('cluster: no seed Kubernetes API (seed-k3s reported none)');
      const t = onSeed(ctx, seed);
      const name = ctx.desired.clusterName;
      if (changes.some((c) => c.address === releaseAddress(name))) {
        // The seed layers have run: what the plan showed as "known after the seed" is known now.
        const values = await desiredValues(ctx);
        if (values.unknownPaths.length > 0) {
          throw new Error(
            `cluster: still unknown after the seed layers: ${values.unknownPaths.map((p) => p.join('.')).join(', ')}`,
          );
        }
        const report = await preflight(cloud(ctx), ctx.desired, values.values);
        ctx.log.info(`pre-flight: ${report.summary}`);
        const helm = await t.helm;
        ctx.log.info(
          `helm upgrade --install ${RELEASE_NAMESPACE}/${name} (${observed.chart.name} ${observed.chart.version})`,
        );
        await helm.upgradeInstall({
          release: name,
          namespace: RELEASE_NAMESPACE,
          chart: { kind: 'repo', ...observed.chart },
          values: [values.values],
          createNamespace: true,
          // As azimuth: no helm wait; readiness is watched below.
          wait: false,
          atomic: false,
        });
      }
      await waitForCluster({
        read: () => readClusterState(t.kube, name),
        timeoutMs: ctx.desired.config.cluster.timeoutMinutes * 60_000,
        log: (l) => ctx.log.info(l),
        ...(deps.pollMs ? { minIntervalMs: deps.pollMs.min, maxIntervalMs: deps.pollMs.max } : {}),
      });
      const kubeconfig = await handOn(ctx, seed, t.kube, true);
      if (!kubeconfig) throw new Error(`cluster: Cluster API wrote no Secret ${RELEASE_NAMESPACE}/${name}-kubeconfig`);
      ctx.publish(clusterOutputs, { kubeconfig });
    },
  };
}

const releaseAddress = (name: string): string => `release/${name}`;

/** Register every string under a secret path of the values (a subtree counts whole). */
function redactAt(ctx: LayerContext, values: Record<string, unknown>, path: readonly string[]): void {
  let v: unknown = values;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  const walk = (x: unknown): void => {
    if (typeof x === 'string' || typeof x === 'number') ctx.redactor.add(x);
    else if (x !== null && typeof x === 'object') for (const y of Object.values(x)) walk(y);
  };
  walk(v);
}

/** Pure: the release against desired (a values diff), then the cluster's health. */
function diffCluster(desired: Desired, o: ClusterObserved): { changes: Change[]; notes?: string[] } {
  const name = desired.clusterName;
  const notes = [...o.desired.notes];
  const after = { chart: `${o.chart.name} ${o.chart.version}`, values: o.desired.values };
  if (!o.release) {
    const c = desired.config.cluster;
    return {
      changes: [
        {
          layer: LAYER,
          address: releaseAddress(name),
          action: 'create',
          after,
          reason: `install ${o.chart.name} ${o.chart.version}: ${c.controlPlane.count} control-plane and ${c.workers.count} worker machines, Kubernetes ${c.kubernetesVersion}`,
        },
      ],
      notes,
    };
  }
  const lines: string[] = [];
  if (o.release.info.chartVersion.replace(/^v/, '') !== o.chart.version.replace(/^v/, '')) {
    lines.push(`chart ${o.release.info.chartVersion} -> ${o.chart.version}`);
  }
  if (o.release.info.status !== 'deployed') lines.push(`release is ${o.release.info.status}`);
  const entries = diffValues(o.release.values, o.desired.values, { secretPaths: o.desired.secretPaths });
  lines.push(...renderValuesDiff(entries));
  if (entries.some((e) => /(^|\.)kubernetesVersion$/.test(e.path) || /machineImage/.test(e.path))) {
    const c = desired.config.cluster;
    lines.push(
      `rolls the machines: ${c.controlPlane.count} control-plane (one new at a time) and ${c.workers.count} workers (up to ${c.workers.maxSurge} new at a time)`,
    );
  }
  const changes: Change[] = [];
  if (lines.length > 0) {
    changes.push({ layer: LAYER, address: releaseAddress(name), action: 'update', after, reason: lines.join('\n') });
  } else {
    changes.push({ layer: LAYER, address: releaseAddress(name), action: 'no-op', after });
    const pending = o.state ? pendingOf(o.state) : [];
    if (pending.length > 0) {
      changes.push({
        layer: LAYER,
        address: `cluster/${name}`,
        action: 'update',
        reason: `not healthy (apply waits for it): ${pending
          .map((p) => `${p.subject} ${p.actual}${p.detail ? ` (${p.detail})` : ''}`)
          .join('; ')}`,
      });
    }
  }
  return { changes, notes };
}

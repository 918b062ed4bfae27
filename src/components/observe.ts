/** Reads what a component set finds on its target: read-only (GETs, helm status/values, server-side dry runs). */
import { describeDeployment, describeRef, deploymentRolledOut, hasCondition, type KubeObject } from '../kube/index.js';
import { deploymentVersion, stampComponent } from './stamp.js';
import type { ComponentLog, Target } from './target.js';
import type { AbsentComponent, ChartComponent, Component, ManifestComponent, ObjectsComponent } from './types.js';

export interface ObservedManifest {
  kind: 'manifest';
  installed: boolean;
  /** Version the controllers run; `a/b` when they disagree. */
  version?: string;
  /** Installed by capi-mgmt (stamped), as opposed to by clusterctl or azimuth-ops. */
  managed: boolean;
  missingControllers: string[];
  unavailable: string[];
  /** Objects a re-apply would change (from a server-side dry run), checked only when versions match. */
  drift: string[];
}

export interface ObservedChart {
  kind: 'chart';
  installed: boolean;
  version?: string;
  status?: string;
  values?: Record<string, unknown>;
  unavailable: string[];
}

export interface ObservedObjects {
  kind: 'objects';
  /** Objects that do not exist. */
  missing: string[];
  /** Objects a re-apply would change, with the paths (never the values). */
  drift: string[];
  unavailable: string[];
}

export interface ObservedAbsent {
  kind: 'absent';
  exists: boolean;
}

export type ObservedComponent = ObservedManifest | ObservedChart | ObservedObjects | ObservedAbsent;

export interface ComponentsObserved {
  /** False when the target cluster is not there yet (plan from desired state alone). */
  reachable: boolean;
  /** By component address. */
  components: Record<string, ObservedComponent>;
}

type Readiness = Pick<ManifestComponent, 'controllers' | 'crds'>;

const deploymentRef = (c: { namespace: string; name: string }) => ({ apiVersion: 'apps/v1', kind: 'Deployment', ...c });
const crdRef = (name: string) => ({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name });

/** The component's Deployments and CRDs: which exist, and which are not ready. */
async function readiness(t: Target, c: Readiness) {
  const found: KubeObject[] = [];
  const missing: string[] = [];
  const unavailable: string[] = [];
  // All read at once; the results are taken in the declared order, so the plan stays stable.
  const [deployments, crds] = await Promise.all([
    Promise.all(c.controllers.map((ref) => t.kube.get(deploymentRef(ref)))),
    Promise.all((c.crds ?? []).map((name) => t.kube.get(crdRef(name)))),
  ]);
  c.controllers.forEach((ref, i) => {
    const key = `${ref.namespace}/${ref.name}`;
    const d = deployments[i];
    if (!d) missing.push(key);
    else {
      found.push(d);
      if (!deploymentRolledOut(d)) unavailable.push(`${key} (${describeDeployment(d)})`);
    }
  });
  (c.crds ?? []).forEach((name, i) => {
    const crd = crds[i];
    if (crd && !hasCondition(crd, 'Established', 'True')) unavailable.push(`CustomResourceDefinition ${name}`);
  });
  return { found, missing, unavailable };
}

const driftLines = (diffs: Awaited<ReturnType<Target['kube']['diff']>>): string[] =>
  diffs
    .filter((d) => d.action !== 'unchanged')
    .map((d) =>
      d.action === 'create' ? `${describeRef(d.ref)} missing` : `${describeRef(d.ref)}: ${(d.paths ?? []).join(', ')}`,
    );

/** The objects a manifest component applies: its rendering of the published text, stamped. */
export async function manifestObjects(t: Target, c: ManifestComponent): Promise<KubeObject[]> {
  return stampComponent(c.render(await t.sources.manifest(c.source, c.version)), c.source, c.version);
}

async function observeManifest(t: Target, c: ManifestComponent, log: ComponentLog): Promise<ObservedManifest> {
  const { found, missing, unavailable } = await readiness(t, c);
  if (found.length === 0) {
    return { kind: 'manifest', installed: false, managed: false, missingControllers: missing, unavailable, drift: [] };
  }
  const versions = found.map(deploymentVersion);
  const out: ObservedManifest = {
    kind: 'manifest',
    installed: true,
    version: [...new Set(versions.map((v) => v.version ?? 'unknown'))].join('/'),
    managed: versions.every((v) => v.managed),
    missingControllers: missing,
    unavailable,
    drift: [],
  };
  // Only a bundle we installed at the wanted version is worth a dry run: anything else is re-applied anyway.
  if (out.managed && missing.length === 0 && out.version === c.version) {
    try {
      out.drift = driftLines(await t.kube.diff(await manifestObjects(t, c), { force: true }));
    } catch (e) {
      log.warn(`${c.title}: drift check failed, will re-apply: ${(e as Error).message}`);
      out.drift = [`drift check failed: ${(e as Error).message}`];
    }
  }
  return out;
}

async function observeChart(t: Target, c: ChartComponent): Promise<ObservedChart> {
  const release = await t.helm.status(c.release, c.namespace);
  if (!release) return { kind: 'chart', installed: false, unavailable: [] };
  const [{ unavailable }, values] = await Promise.all([readiness(t, c), t.helm.getValues(c.release, c.namespace)]);
  return {
    kind: 'chart',
    installed: true,
    version: release.chartVersion,
    status: release.status,
    values,
    unavailable,
  };
}

async function observeObjects(t: Target, c: ObjectsComponent, log: ComponentLog): Promise<ObservedObjects> {
  const [{ unavailable }, diffs] = await Promise.all([
    readiness(t, c),
    t.kube.diff(c.objects, { force: true }).then(
      (d) => ({ ok: true as const, d }),
      (e: unknown) => ({ ok: false as const, message: e instanceof Error ? e.message : String(e) }),
    ),
  ]);
  if (!diffs.ok) {
    log.warn(`${c.title}: drift check failed, will re-apply: ${diffs.message}`);
    return { kind: 'objects', missing: [], drift: [`drift check failed: ${diffs.message}`], unavailable };
  }
  return {
    kind: 'objects',
    missing: diffs.d.filter((d) => d.action === 'create').map((d) => describeRef(d.ref)),
    drift: driftLines(diffs.d.filter((d) => d.action === 'update')),
    unavailable,
  };
}

async function observeAbsent(t: Target, c: AbsentComponent): Promise<ObservedAbsent> {
  return { kind: 'absent', exists: (await t.kube.get(c.ref)) !== undefined };
}

function observeComponent(t: Target, c: Component, log: ComponentLog): Promise<ObservedComponent> {
  switch (c.kind) {
    case 'chart':
      return observeChart(t, c);
    case 'manifest':
      return observeManifest(t, c, log);
    case 'objects':
      return observeObjects(t, c, log);
    case 'absent':
      return observeAbsent(t, c);
  }
}

/**
 * Observe every component, all at once (they are read-only and independent);
 * the record keeps the declared order. Without a target (cluster not there
 * yet) nothing is read.
 */
export async function observeComponents(
  components: readonly Component[],
  target: Target | undefined,
  log: ComponentLog,
): Promise<ComponentsObserved> {
  if (!target) return { reachable: false, components: {} };
  const seen = await Promise.all(components.map((c) => observeComponent(target, c, log)));
  const out: Record<string, ObservedComponent> = {};
  components.forEach((c, i) => (out[c.address] = seen[i]!));
  return { reachable: true, components: out };
}

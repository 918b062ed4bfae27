/** Reads what seed-capi finds on the seed: read-only (GETs, helm list/get, server-side dry runs). */
import type { LayerContext } from '../../engine/types.js';
import { deploymentRolledOut, describeRef, type KubeObject } from '../../kube/index.js';
import { describeDeployment } from '../../kube/compare.js';
import {
  desiredComponents,
  LEGACY_WEBHOOK,
  type ChartSpec,
  type ComponentSpec,
  type ManifestSpec,
} from './components.js';
import type { Session } from './session.js';
import { deploymentVersion, renderProvider } from './transforms.js';

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

export type ObservedComponent = ObservedManifest | ObservedChart;

export interface SeedCapiObserved {
  /** False when the seed's Kubernetes is not there yet (plan from desired state alone). */
  reachable: boolean;
  components: Record<string, ObservedComponent>;
  legacyWebhook: boolean;
}

const deploymentRef = (c: { namespace: string; name: string }) => ({ apiVersion: 'apps/v1', kind: 'Deployment', ...c });

async function controllers(s: Session, spec: ComponentSpec) {
  const found: Array<{ key: string; d: KubeObject }> = [];
  const missing: string[] = [];
  for (const c of spec.controllers) {
    const d = await s.kube.get(deploymentRef(c));
    if (d) found.push({ key: `${c.namespace}/${c.name}`, d });
    else missing.push(`${c.namespace}/${c.name}`);
  }
  const unavailable = found
    .filter(({ d }) => !deploymentRolledOut(d))
    .map(({ key, d }) => `${key} (${describeDeployment(d)})`);
  return { found, missing, unavailable };
}

async function observeManifest(s: Session, spec: ManifestSpec, ctx: LayerContext): Promise<ObservedManifest> {
  const { found, missing, unavailable } = await controllers(s, spec);
  if (found.length === 0) {
    return { kind: 'manifest', installed: false, managed: false, missingControllers: missing, unavailable, drift: [] };
  }
  const versions = found.map(({ d }) => deploymentVersion(d));
  const distinct = [...new Set(versions.map((v) => v.version ?? 'unknown'))];
  const out: ObservedManifest = {
    kind: 'manifest',
    installed: true,
    version: distinct.join('/'),
    managed: versions.every((v) => v.managed),
    missingControllers: missing,
    unavailable,
    drift: [],
  };
  if (out.managed && missing.length === 0 && out.version === spec.version) {
    const objects = renderProvider(
      spec.component,
      spec.version,
      await s.toolbox.manifest(spec.component, spec.version),
    );
    try {
      const diffs = await s.kube.diff(objects, { force: true });
      out.drift = diffs
        .filter((d) => d.action !== 'unchanged')
        .map((d) =>
          d.action === 'create' ? `${describeRef(d.ref)} missing` : `${describeRef(d.ref)}: ${d.paths!.join(', ')}`,
        );
    } catch (e) {
      ctx.log.warn(`${spec.title}: drift check failed, will re-apply: ${(e as Error).message}`);
      out.drift = [`drift check failed: ${(e as Error).message}`];
    }
  }
  return out;
}

async function observeChart(s: Session, spec: ChartSpec): Promise<ObservedChart> {
  const release = await s.helm.status(spec.release, spec.namespace);
  const { unavailable } = await controllers(s, spec);
  if (!release) return { kind: 'chart', installed: false, unavailable: [] };
  return {
    kind: 'chart',
    installed: true,
    version: release.chartVersion,
    status: release.status,
    values: await s.helm.getValues(spec.release, spec.namespace),
    unavailable,
  };
}

export async function observeSeedCapi(ctx: LayerContext, session: Session | undefined): Promise<SeedCapiObserved> {
  if (!session) return { reachable: false, components: {}, legacyWebhook: false };
  const components: Record<string, ObservedComponent> = {};
  for (const spec of desiredComponents(ctx.desired)) {
    components[spec.address] =
      spec.kind === 'chart' ? await observeChart(session, spec) : await observeManifest(session, spec, ctx);
  }
  const legacyWebhook = (await session.kube.get(LEGACY_WEBHOOK)) !== undefined;
  return { reachable: true, components, legacyWebhook };
}

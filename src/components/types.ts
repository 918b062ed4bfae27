/**
 * A component set: a declared list of things to reconcile on one target
 * cluster, in install order. Each component is a Helm release, a manifest
 * bundle (e.g. a provider's published YAML), a list of plain objects (e.g. a
 * Velero `Schedule`), or an object that must not exist.
 */
import type { KubeObject, ObjectRef } from '../kube/index.js';
import type { ChartSourceId, ManifestSourceId } from '../model/sources.js';

export interface DeploymentRef {
  namespace: string;
  name: string;
}

interface Common {
  /** Plan address, unique in the set: `release/<name>`, `provider/<name>`, `objects/<name>`, ... */
  address: string;
  /** Human name for logs and plan reasons, e.g. "cert-manager". */
  title: string;
  /** Deployments that must be Available once the component is applied. */
  controllers: DeploymentRef[];
  /** CustomResourceDefinitions that must be Established once it is applied (before later components use them). */
  crds?: string[];
}

/** A Helm release of a chart from the sources table. */
export interface ChartComponent extends Common {
  kind: 'chart';
  source: ChartSourceId;
  version: string;
  release: string;
  namespace: string;
  values: Record<string, unknown>;
  /** Roll back a failed upgrade (uninstall a failed first install). */
  atomic: boolean;
  /** How long helm may take, including its own wait for the release's resources. */
  timeoutMs: number;
}

/**
 * A published manifest bundle from the sources table, applied server-side.
 * `render` turns the published text into the objects to apply (variables,
 * patches); the reconciler then stamps every object with the source and
 * version, which is how observe reads back what is installed.
 */
export interface ManifestComponent extends Common {
  kind: 'manifest';
  source: ManifestSourceId;
  version: string;
  render: (text: string) => KubeObject[];
}

/** Plain objects, applied server-side and checked for drift by dry run. */
export interface ObjectsComponent extends Common {
  kind: 'objects';
  objects: KubeObject[];
}

/** An object that must not exist (e.g. a webhook an older release left behind). */
export interface AbsentComponent {
  kind: 'absent';
  address: string;
  title: string;
  ref: ObjectRef;
  /** Why it goes, for the plan. */
  reason: string;
}

export type Component = ChartComponent | ManifestComponent | ObjectsComponent | AbsentComponent;

/** Check a declared list before anything runs: addresses must be unique. */
export function checkComponents(setName: string, components: readonly Component[]): void {
  const seen = new Set<string>();
  for (const c of components) {
    if (seen.has(c.address)) throw new Error(`component set ${setName}: address ${c.address} is declared twice`);
    seen.add(c.address);
  }
}

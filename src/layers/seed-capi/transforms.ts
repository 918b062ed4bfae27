/**
 * Provider manifests as azimuth-ops deploys them, as transforms on parsed
 * objects (pure): clusterctl variables filled from their defaults, the
 * controllers' args replaced (diagnostics, leader election, feature gates),
 * and every object stamped with the component and version so observe can
 * read back what is installed.
 */
import type { KubeObject } from '../../kube/objects.js';
import { parseManifests } from '../../kube/objects.js';
import { substituteVariables, type Variables } from '../../kube/substitute.js';
import type { ManifestComponent } from '../../tools/artifacts.js';

export const VERSION_ANNOTATION = 'capi-mgmt.io/version';
export const COMPONENT_LABEL = 'capi-mgmt.io/component';

const DIAGNOSTICS = ['--diagnostics-address=0.0.0.0:8443', '--insecure-diagnostics=false'];
const KUBEADM_GATES = '--feature-gates=KubeadmBootstrapFormatIgnition=false';

/** Container args per controller Deployment, replacing the published ones (azimuth-ops' kustomize patches). */
export const CONTROLLER_ARGS: Record<ManifestComponent, Record<string, string[]>> = {
  capi: {
    'capi-system/capi-controller-manager': [
      '--leader-elect',
      ...DIAGNOSTICS,
      '--feature-gates=MachinePool=false,ClusterTopology=true,RuntimeSDK=true,MachineSetPreflightChecks=true',
    ],
    'capi-kubeadm-bootstrap-system/capi-kubeadm-bootstrap-controller-manager': [
      '--leader-elect',
      ...DIAGNOSTICS,
      KUBEADM_GATES,
    ],
    'capi-kubeadm-control-plane-system/capi-kubeadm-control-plane-controller-manager': [
      '--leader-elect',
      ...DIAGNOSTICS,
      KUBEADM_GATES,
    ],
  },
  orc: {},
  capo: {
    'capo-system/capo-controller-manager': [
      '--leader-elect',
      '--v=2',
      '--diagnostics-address=0.0.0.0:8080',
      '--insecure-diagnostics=true',
      '--feature-gates=PriorityQueue=true,AutoScaleFromZero=true',
    ],
  },
};

type Container = { name?: string; args?: string[]; [k: string]: unknown };

function containersOf(d: KubeObject): Container[] {
  const spec = d.spec as { template?: { spec?: { containers?: Container[] } } } | undefined;
  return spec?.template?.spec?.containers ?? [];
}

/** Replace the `manager` container's args (or the only container's) of the named Deployments. */
export function replaceControllerArgs(objects: KubeObject[], args: Record<string, string[]>): KubeObject[] {
  const pending = new Set(Object.keys(args));
  const out = objects.map((o) => {
    const key = `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
    if (o.kind !== 'Deployment' || !args[key]) return o;
    const copy = structuredClone(o);
    const containers = containersOf(copy);
    const target =
      containers.find((c) => c.name === 'manager') ?? (containers.length === 1 ? containers[0] : undefined);
    if (!target) throw new Error(`Deployment ${key}: no "manager" container to set args on`);
    target.args = [...args[key]];
    pending.delete(key);
    return copy;
  });
  if (pending.size > 0) {
    throw new Error(`the manifest has no Deployment ${[...pending].join(', ')} to patch: has its layout changed?`);
  }
  return out;
}

export function stampComponent(objects: KubeObject[], component: string, version: string): KubeObject[] {
  return objects.map((o) => ({
    ...o,
    metadata: {
      ...o.metadata,
      labels: { ...o.metadata.labels, [COMPONENT_LABEL]: component },
      annotations: { ...o.metadata.annotations, [VERSION_ANNOTATION]: version },
    },
  }));
}

/** Published manifest text -> the objects seed-capi applies. */
export function renderProvider(
  component: ManifestComponent,
  version: string,
  text: string,
  variables: Variables = {},
): KubeObject[] {
  const objects = parseManifests(substituteVariables(text, variables), `${component} ${version} manifest`);
  return stampComponent(replaceControllerArgs(objects, CONTROLLER_ARGS[component]), component, version);
}

/** The version a controller Deployment runs: our stamp, else its image tag (installed by someone else). */
export function deploymentVersion(d: KubeObject): { version?: string; managed: boolean } {
  const stamped = d.metadata.annotations?.[VERSION_ANNOTATION];
  if (stamped) return { version: stamped, managed: true };
  const image = containersOf(d).find((c) => c.name === 'manager')?.image ?? containersOf(d)[0]?.image;
  const tag = typeof image === 'string' && image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : undefined;
  return { version: tag, managed: false };
}

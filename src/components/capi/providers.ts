/**
 * Cluster API provider manifests as azimuth-ops deploys them, as transforms
 * on parsed objects (pure): clusterctl variables filled from their defaults
 * and the controllers' args replaced (diagnostics, leader election, feature
 * gates), as its kustomize patches do.
 */
import { parseManifests, substituteVariables, type KubeObject, type Variables } from '../../kube/index.js';

export type ProviderSource = 'capi' | 'orc' | 'capo';

const DIAGNOSTICS = ['--diagnostics-address=0.0.0.0:8443', '--insecure-diagnostics=false'];
const KUBEADM_GATES = '--feature-gates=KubeadmBootstrapFormatIgnition=false';

/** Container args per controller Deployment, replacing the published ones. */
const CONTROLLER_ARGS: Record<ProviderSource, Record<string, string[]>> = {
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
function replaceControllerArgs(objects: KubeObject[], args: Record<string, string[]>): KubeObject[] {
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

/** Published manifest text -> the objects to apply (before the reconciler stamps them). */
export function renderProvider(
  source: ProviderSource,
  version: string,
  text: string,
  variables: Variables = {},
): KubeObject[] {
  const objects = parseManifests(substituteVariables(text, variables), `${source} ${version} manifest`);
  return replaceControllerArgs(objects, CONTROLLER_ARGS[source]);
}

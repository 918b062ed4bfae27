/**
 * Reading the management cluster's Cluster API objects on the seed: the
 * Cluster at v1beta2 (where its conditions are the ones azimuth waits on),
 * its MachineDeployments and Machines, and the addon provider's objects of
 * the release. Read-only; an absent kind (Cluster API not installed yet)
 * reads as nothing.
 */
import { KubeApiError, type KubeClient, type KubeObject } from '../../kube/index.js';
import { stateOf, type ClusterState } from './health.js';
import { sleep } from '../../util/wait.js';

const CLUSTER_API = 'cluster.x-k8s.io/v1beta2';
const ADDONS_API = 'addons.stackhpc.com/v1alpha1';
export const RELEASE_NAMESPACE = 'default';

export interface ClusterObjects {
  cluster?: KubeObject;
  machineDeployments: KubeObject[];
  machines: KubeObject[];
  addons: KubeObject[];
}

/**
 * A kind whose CRD was just created answers 429 "storage is (re)initializing"
 * for a moment (seed-capi installs the addon provider's right before this
 * layer observes): ask again, briefly.
 */
async function settled<T>(read: () => Promise<T>, attempts = 20, pauseMs = 500): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await read();
    } catch (e) {
      if (!(e instanceof KubeApiError && (e.status === 429 || e.status === 503)) || i >= attempts) throw e;
      await sleep(pauseMs);
    }
  }
}

function readClusterObjects(kube: KubeClient, name: string): Promise<ClusterObjects> {
  return settled(() => readOnce(kube, name));
}

async function readOnce(kube: KubeClient, name: string): Promise<ClusterObjects> {
  const namespace = RELEASE_NAMESPACE;
  const byCluster = { namespace, labelSelector: `cluster.x-k8s.io/cluster-name=${name}` };
  const byRelease = { namespace, labelSelector: `capi.stackhpc.com/cluster=${name}` };
  const [cluster, machineDeployments, machines, helmReleases, manifests] = await Promise.all([
    kube.get({ apiVersion: CLUSTER_API, kind: 'Cluster', name, namespace }),
    kube.list(CLUSTER_API, 'MachineDeployment', byCluster),
    kube.list(CLUSTER_API, 'Machine', byCluster),
    kube.list(ADDONS_API, 'HelmRelease', byRelease),
    kube.list(ADDONS_API, 'Manifests', byRelease),
  ]);
  const out: ClusterObjects = { machineDeployments, machines, addons: [...helmReleases, ...manifests] };
  if (cluster) out.cluster = cluster;
  return out;
}

export const readClusterState = async (kube: KubeClient, name: string): Promise<ClusterState> =>
  stateOf(await readClusterObjects(kube, name));

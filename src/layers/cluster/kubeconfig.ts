/**
 * The management cluster's kubeconfig. Cluster API writes a certificate
 * kubeconfig (`<cluster>-kubeconfig`, valid a year, refreshed only in that
 * Secret); like azimuth-ops, the layer hands on a ServiceAccount token
 * kubeconfig instead, which does not expire with the certificate.
 */
import type { KubeClient, KubeObject } from '../../kube/index.js';
import { buildKubeconfig, currentOf, parseKubeconfig, stringifyKubeconfig, type Kubeconfig } from '../../kube/index.js';
import { RELEASE_NAMESPACE } from './read.js';
import { sleep } from '../../util/wait.js';

export interface TokenSettings {
  namespace: string;
  serviceAccount: string;
  clusterRole: string;
}

/** CAPI's kubeconfig of the cluster, from the seed; undefined until CAPI has written it. */
export async function readCertKubeconfig(seed: KubeClient, cluster: string): Promise<Kubeconfig | undefined> {
  const secret = await seed.get({
    apiVersion: 'v1',
    kind: 'Secret',
    name: `${cluster}-kubeconfig`,
    namespace: RELEASE_NAMESPACE,
  });
  const value = (secret?.data as Record<string, string> | undefined)?.value;
  if (!value) return undefined;
  return parseKubeconfig(Buffer.from(value, 'base64').toString('utf8'), `Secret ${cluster}-kubeconfig`);
}

/** The objects azimuth-ops creates for the token kubeconfig (its names: `<sa>`, `<sa>-service-account`). */
function tokenObjects(s: TokenSettings): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: s.namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: s.serviceAccount, namespace: s.namespace } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: {
        name: tokenSecretName(s),
        namespace: s.namespace,
        annotations: { 'kubernetes.io/service-account.name': s.serviceAccount },
      },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: s.serviceAccount },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: s.clusterRole },
      subjects: [{ kind: 'ServiceAccount', name: s.serviceAccount, namespace: s.namespace }],
    },
  ];
}

const tokenSecretName = (s: TokenSettings): string => `${s.serviceAccount}-service-account`;

/** The token the token controller wrote into the Secret, if it has. */
export async function readToken(mgmt: KubeClient, s: TokenSettings): Promise<string | undefined> {
  const secret = await mgmt.get({ apiVersion: 'v1', kind: 'Secret', name: tokenSecretName(s), namespace: s.namespace });
  const token = (secret?.data as Record<string, string> | undefined)?.token;
  return token ? Buffer.from(token, 'base64').toString('utf8') : undefined;
}

/** Create (or keep) the ServiceAccount, its token Secret and binding; wait for the token. */
export async function ensureToken(
  mgmt: KubeClient,
  s: TokenSettings,
  o: { timeoutMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<string> {
  await mgmt.apply(tokenObjects(s));
  const pause = o.sleep ?? sleep;
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  for (;;) {
    const token = await readToken(mgmt, s);
    if (token) return token;
    if (Date.now() > deadline) {
      throw new Error(
        `the management cluster wrote no token into Secret ${s.namespace}/${tokenSecretName(s)} (is its kube-controller-manager running?)`,
      );
    }
    await pause(500);
  }
}

/**
 * The kubeconfig handed on: CAPI's server and CA, the token, and nothing
 * else (not CAPI's admin certificate and key).
 */
export function tokenKubeconfig(cert: Kubeconfig, token: string, cluster: string): string {
  const { cluster: entry } = currentOf(cert);
  const ca = entry['certificate-authority-data'];
  return stringifyKubeconfig(
    buildKubeconfig({
      name: cluster,
      server: entry.server,
      ...(ca ? { caPem: Buffer.from(ca, 'base64').toString('utf8') } : {}),
      credentials: { token },
    }),
  );
}

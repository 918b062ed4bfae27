/** Kubeconfig text in, a checked `KubeConfig` out. */
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeconfig(text: string, what = 'kubeconfig'): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (e) {
    throw new Error(`${what} is not a valid kubeconfig: ${(e as Error).message}`, { cause: e });
  }
  const current = kc.getCurrentContext();
  if (!current) throw new Error(`${what} has no current-context`);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new Error(`${what}: context "${current}" names no cluster with a server URL`);
  return kc;
}

/** The API server URL, for messages (never the credentials). */
export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? '(unknown server)';
}

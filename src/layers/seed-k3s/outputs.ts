/** What seed-k3s hands to later layers: the seed's Kubernetes API for this run. */
import { outputKey } from '../../engine/outputs.js';

/** Published only once the API answers; its absence means the seed has no working K3s (yet). */
export interface SeedK3sOutputs {
  /** YAML reaching the K3s API through this run's SSH tunnel (TLS verified). Secret. */
  kubeconfig: string;
  /**
   * A local port on 127.0.0.1 forwarded through the seed to host:port as the
   * seed sees it (one forward per address per run): how the runner reaches
   * the management cluster's API, which sits on the seed's network.
   */
  reach(host: string, port: number): Promise<number>;
}

export const seedK3sOutputs = outputKey<SeedK3sOutputs>('seed-k3s');

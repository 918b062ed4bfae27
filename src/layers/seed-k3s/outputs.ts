/** What seed-k3s hands to later layers: the seed's Kubernetes API for this run. */
import { outputKey } from '../../engine/outputs.js';

/** Published only once the API answers; its absence means the seed has no working K3s (yet). */
export interface SeedK3sOutputs {
  /** YAML reaching the K3s API through this run's SSH tunnel (TLS verified). Secret. */
  kubeconfig: string;
}

export const seedK3sOutputs = outputKey<SeedK3sOutputs>('seed-k3s');

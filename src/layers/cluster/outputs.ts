/**
 * What the `cluster` layer hands on: the management cluster's kubeconfig.
 * Declared ahead of the layer itself because the run session already turns
 * it into the encrypted kubeconfig artifact.
 */
import { outputKey } from '../../engine/outputs.js';

export interface ClusterOutputs {
  /** A token-based kubeconfig for the management cluster. Secret. */
  kubeconfig: string;
}

export const clusterOutputs = outputKey<ClusterOutputs>('cluster');

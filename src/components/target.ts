/**
 * What a component set needs from the cluster it reconciles: the
 * Kubernetes client, helm bound to the same kubeconfig, and the sources
 * (manifest text, chart locations). Small on purpose, so tests can pass
 * in-memory fakes.
 */
import type { Helm } from '../helm/index.js';
import type { KubeClient } from '../kube/index.js';
import type { Toolbox } from '../tools/index.js';

export type TargetKube = Pick<
  KubeClient,
  'get' | 'apply' | 'diff' | 'delete' | 'waitForCrdsEstablished' | 'waitForDeploymentsAvailable'
>;
type TargetHelm = Pick<Helm, 'status' | 'getValues' | 'upgradeInstall'>;
type TargetSources = Pick<Toolbox, 'manifest' | 'chart'>;

export interface Target {
  kube: TargetKube;
  helm: TargetHelm;
  sources: TargetSources;
}

/** Where progress goes; a subset of the engine's Logger. */
export interface ComponentLog {
  info(message: string): void;
  warn(message: string): void;
}

export { createKubeClient, FIELD_MANAGER } from './client.js';
export type {
  ApplyOptions,
  DeleteOptions,
  KindRef,
  KubeClient,
  ListOptions,
  ListResult,
  ObjectDiff,
  PatchOptions,
  ServiceAccountToken,
  TokenOptions,
  WaitOptions,
  WaitSpec,
  WatchOptions,
  WriteOptions,
} from './client.js';
export {
  isConflict,
  isNotFound,
  KubeApiError,
  KubeConflictError,
  KubeConnectionError,
  KubeGoneError,
  KubeNotFoundError,
} from './errors.js';
export {
  apiAddressOf,
  buildKubeconfig,
  currentOf,
  forTunnel,
  KubeconfigError,
  parseKubeconfig,
  serverOf,
  stringifyKubeconfig,
  withServer,
  withToken,
} from './kubeconfig.js';
export type { Kubeconfig } from './kubeconfig.js';
export type { RawRequest, RawResponse } from './transport.js';
export type { WatchEvent } from './watch.js';
export { applyOrder, describeRef, parseManifests, refOf } from './objects.js';
export type { KubeObject, ObjectRef } from './objects.js';
export { substituteVariables } from './substitute.js';
export type { Variables } from './substitute.js';
export {
  changedPaths,
  deploymentRolledOut,
  describeDeployment,
  describeConditions,
  hasCondition,
  normalizeForDiff,
} from './compare.js';

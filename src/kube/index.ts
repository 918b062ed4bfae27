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
  PatchType,
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
export type { ApiAddress, Credentials, Kubeconfig, KubeconfigParts } from './kubeconfig.js';
export type { Method, RawRequest, RawResponse } from './transport.js';
export type { WatchEvent } from './watch.js';
export { applyOrder, describeRef, parseManifests, refOf } from './objects.js';
export type { KubeObject, ObjectRef } from './objects.js';
export { substituteVariables, listVariables, MissingVariablesError } from './substitute.js';
export {
  changedPaths,
  conditionsOf,
  deploymentRolledOut,
  describeConditions,
  hasCondition,
  normalizeForDiff,
} from './compare.js';

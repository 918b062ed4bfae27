export { createKubeClient, FIELD_MANAGER } from './client.js';
export type { ApplyOptions, KubeClient, ObjectDiff, WaitOptions, WaitSpec } from './client.js';
export { loadKubeconfig, serverOf } from './kubeconfig.js';
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

export { componentSetLayer, defaultToolbox } from './layer.js';
export type { ComponentSetDefinition, ComponentSetDeps } from './layer.js';
export type {
  AbsentComponent,
  ChartComponent,
  Component,
  DeploymentRef,
  ManifestComponent,
  ObjectsComponent,
} from './types.js';
export { checkComponents } from './types.js';
export { diffComponent, diffComponentSet, valuesDigest } from './diff.js';
export { observeComponents } from './observe.js';
export type { ComponentsObserved, ObservedComponent } from './observe.js';
export { applyComponents, applySteps } from './apply.js';
export type { ApplyItem, Step } from './apply.js';
export type { Target } from './target.js';
export { COMPONENT_LABEL, VERSION_ANNOTATION, deploymentVersion } from './stamp.js';
export { capiStack, certManagerValues, LEGACY_CAPO_WEBHOOK } from './capi/stack.js';
export { CONTROLLER_ARGS, renderProvider } from './capi/providers.js';

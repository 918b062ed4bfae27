export { componentSetLayer } from './layer.js';
export type { ComponentSetDeps } from './layer.js';
export type { Component } from './types.js';
export type { ComponentsObserved } from './observe.js';
export { VERSION_ANNOTATION } from './stamp.js';
export { capiStack } from './capi/stack.js';

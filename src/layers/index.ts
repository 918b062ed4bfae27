/**
 * The layers that make up a deployment, in order. Each layer's module
 * registers itself here; the engine runs them as listed.
 */
import type { Desired } from '../model/desired.js';
import type { AnyLayer } from '../engine/types.js';

export type LayerFactory = (desired: Desired) => AnyLayer[];

export const defaultLayers: LayerFactory = () => [];

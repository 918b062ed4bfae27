/**
 * The layers that make up a deployment, in order. Each layer's module
 * registers itself here; the engine runs them as listed.
 */
import type { Desired } from '../model/desired.js';
import type { AnyLayer } from '../engine/types.js';
import { seedInfraLayer } from './seed-infra/index.js';
import { seedK3sLayer } from './seed-k3s/index.js';
import { seedCapiLayer } from './seed-capi/index.js';

export type LayerFactory = (desired: Desired) => AnyLayer[];

export const defaultLayers: LayerFactory = () => [seedInfraLayer(), seedK3sLayer(), seedCapiLayer()];

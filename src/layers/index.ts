/**
 * The layers that make up a deployment, in order. Each layer's module
 * registers itself here; the engine runs them as listed. They are loaded
 * only when a command needs them (not for `validate`): together they pull
 * in the OpenStack, Kubernetes, SSH and download clients, most of the
 * bundle's start-up cost.
 */
import type { Desired } from '../model/desired.js';
import type { AnyLayer } from '../engine/types.js';

/** May answer at once (tests) or after loading the layers' modules. */
export type LayerFactory = (desired: Desired) => AnyLayer[] | Promise<AnyLayer[]>;

export const defaultLayers: LayerFactory = async () => {
  const [infra, k3s, capi] = await Promise.all([
    import('./seed-infra/index.js'),
    import('./seed-k3s/index.js'),
    import('./seed-capi/index.js'),
  ]);
  return [infra.seedInfraLayer(), k3s.seedK3sLayer(), capi.seedCapiLayer()];
};

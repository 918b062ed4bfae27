/**
 * seed-capi: the CAPI management stack on the seed's K3s (cert-manager,
 * CAPI core + kubeadm, ORC, CAPO, addon provider, janitor) at the pinned
 * versions, the way azimuth-ops installs it: one component set.
 */
import {
  capiStack,
  componentSetLayer,
  type Component,
  type ComponentSetDeps,
  type ComponentsObserved,
} from '../../components/index.js';
import type { Layer } from '../../engine/types.js';
import type { Desired } from '../../model/desired.js';
import { seedK3sOutputs } from '../seed-k3s/outputs.js';

export const seedCapiComponents = (desired: Desired): Component[] => capiStack(desired.config.versions);

export function seedCapiLayer(deps: ComponentSetDeps = {}): Layer<ComponentsObserved> {
  return componentSetLayer(
    {
      name: 'seed-capi',
      target: 'the seed Kubernetes API',
      kubeconfig: (ctx) => ctx.outputs.get(seedK3sOutputs)?.kubeconfig,
      missingKubeconfig: 'seed-k3s reported none',
      components: seedCapiComponents,
    },
    deps,
  );
}

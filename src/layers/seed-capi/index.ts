/**
 * seed-capi: the CAPI management stack on the seed's K3s (cert-manager,
 * CAPI core + kubeadm, ORC, CAPO, addon provider, janitor) at the pinned
 * versions, the way azimuth-ops installs it.
 */
import type { Layer } from '../../engine/types.js';
import { seedK3sOutputs } from '../seed-k3s/outputs.js';
import { applySeedCapi } from './apply.js';
import { diffSeedCapi } from './diff.js';
import { observeSeedCapi, type SeedCapiObserved } from './observe.js';
import { sessionFactory, type SeedCapiDeps } from './session.js';

export type { SeedCapiDeps } from './session.js';
export type { SeedCapiObserved } from './observe.js';
export { diffSeedCapi } from './diff.js';
export { desiredComponents } from './components.js';
export { renderProvider, CONTROLLER_ARGS, VERSION_ANNOTATION } from './transforms.js';

export function seedCapiLayer(deps: SeedCapiDeps = {}): Layer<SeedCapiObserved> {
  const session = sessionFactory(deps);
  return {
    name: 'seed-capi',
    async observe(ctx) {
      const kubeconfig = ctx.outputs.get(seedK3sOutputs)?.kubeconfig;
      return observeSeedCapi(ctx, kubeconfig ? await session(ctx, kubeconfig) : undefined);
    },
    diff: diffSeedCapi,
    async apply(changes, _observed, ctx) {
      const kubeconfig = ctx.outputs.get(seedK3sOutputs)?.kubeconfig;
      if (!kubeconfig)
        throw new Error("seed-capi: the seed's Kubernetes API is not reachable (seed-k3s reported none)");
      await applySeedCapi(changes, ctx, await session(ctx, kubeconfig), deps.rolloutTimeoutMs);
    },
  };
}

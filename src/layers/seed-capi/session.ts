/** The clients seed-capi works through, built once per run from the seed kubeconfig. */
import type { LayerContext } from '../../engine/types.js';
import { createHelm, type Helm } from '../../helm/index.js';
import { createKubeClient, type KubeClient } from '../../kube/index.js';
import { createToolbox, type Toolbox } from '../../tools/index.js';

export interface Session {
  kube: KubeClient;
  helm: Helm;
  toolbox: Toolbox;
}

/** Seams for tests and for other faces; every one defaults to the real thing. */
export interface SeedCapiDeps {
  toolbox?: (ctx: LayerContext) => Toolbox;
  kube?: (kubeconfig: string) => KubeClient;
  helm?: (binary: string, kubeconfig: string, ctx: LayerContext) => Helm;
  /** How long each controller may take to become Available (default 10 min, as azimuth-ops). */
  rolloutTimeoutMs?: number;
}

export function defaultToolbox(ctx: LayerContext): Toolbox {
  return createToolbox({ mirrors: ctx.desired.config.mirrors, log: ctx.log });
}

export function sessionFactory(deps: SeedCapiDeps) {
  let cached: { kubeconfig: string; session: Promise<Session> } | undefined;
  return (ctx: LayerContext, kubeconfig: string): Promise<Session> => {
    if (cached?.kubeconfig === kubeconfig) return cached.session;
    const session = (async () => {
      ctx.redactor.addDocument(kubeconfig);
      const toolbox = (deps.toolbox ?? defaultToolbox)(ctx);
      const binary = await toolbox.helm(ctx.desired.config.versions.helm);
      const helm = deps.helm ? deps.helm(binary, kubeconfig, ctx) : createHelm({ binary, kubeconfig, log: ctx.log });
      await helm.version();
      const kube = (deps.kube ?? createKubeClient)(kubeconfig);
      return { kube, helm, toolbox };
    })();
    cached = { kubeconfig, session };
    session.catch(() => (cached = undefined));
    return session;
  };
}

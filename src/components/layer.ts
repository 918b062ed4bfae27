/**
 * A component set as a layer: a name, the target's kubeconfig and the
 * declared list are all a layer needs to give; observe, the pure diff and
 * apply come from here.
 */
import type { Layer, LayerContext } from '../engine/types.js';
import { createHelm, type Helm } from '../helm/index.js';
import type { Desired } from '../model/desired.js';
import { createKubeClient } from '../kube/index.js';
import { createToolbox, type Toolbox } from '../tools/index.js';
import { applyComponents } from './apply.js';
import { diffComponentSet } from './diff.js';
import { observeComponents, type ComponentsObserved } from './observe.js';
import type { Target, TargetKube } from './target.js';
import { checkComponents, type Component } from './types.js';

export interface ComponentSetDefinition {
  /** The layer name, also the plan layer of every change. */
  name: string;
  /** The target in words, for the note when it is not reachable: "the management cluster". */
  target: string;
  /** Kubeconfig text of the target for this run; undefined while it does not exist yet. */
  kubeconfig: (ctx: LayerContext) => string | undefined;
  /** Why apply has no kubeconfig, e.g. "the cluster layer must run first". */
  missingKubeconfig: string;
  /** The declared list, in install order, from desired state alone (pure). */
  components: (desired: Desired) => Component[];
}

/** Seams for tests and other faces; every one defaults to the real thing. */
export interface ComponentSetDeps {
  toolbox?: (ctx: LayerContext) => Toolbox;
  kube?: (kubeconfig: string) => TargetKube;
  helm?: (binary: string, kubeconfig: string, ctx: LayerContext) => Helm;
  /** How long each controller and CRD may take to become ready (default 10 min, as azimuth-ops). */
  rolloutTimeoutMs?: number;
}

function defaultToolbox(ctx: LayerContext): Toolbox {
  return createToolbox({
    mirrors: ctx.desired.config.mirrors,
    log: ctx.log,
    cache: ctx.dirs.toolCache,
    tempDir: ctx.dirs.temp,
  });
}

/** One target per kubeconfig per layer instance: helm is fetched and checked once a run. */
function targetFactory(deps: ComponentSetDeps) {
  let cached: { kubeconfig: string; target: Promise<Target> } | undefined;
  return (ctx: LayerContext, kubeconfig: string): Promise<Target> => {
    if (cached?.kubeconfig === kubeconfig) return cached.target;
    const target = (async (): Promise<Target> => {
      ctx.redactor.addDocument(kubeconfig);
      const toolbox = (deps.toolbox ?? defaultToolbox)(ctx);
      const binary = await toolbox.helm(ctx.desired.config.versions.helm);
      const helm = deps.helm
        ? deps.helm(binary, kubeconfig, ctx)
        : createHelm({ binary, kubeconfig, log: ctx.log, tempDir: ctx.dirs.temp });
      await helm.version();
      const kube = (deps.kube ?? createKubeClient)(kubeconfig);
      return { kube, helm, sources: toolbox };
    })();
    cached = { kubeconfig, target };
    target.catch(() => (cached = undefined));
    return target;
  };
}

export function componentSetLayer(def: ComponentSetDefinition, deps: ComponentSetDeps = {}): Layer<ComponentsObserved> {
  const target = targetFactory(deps);
  const components = (desired: Desired): Component[] => {
    const list = def.components(desired);
    checkComponents(def.name, list);
    return list;
  };
  return {
    name: def.name,
    async observe(ctx) {
      const kubeconfig = def.kubeconfig(ctx);
      return observeComponents(
        components(ctx.desired),
        kubeconfig ? await target(ctx, kubeconfig) : undefined,
        ctx.log,
      );
    },
    diff: (desired, observed) => diffComponentSet(def, components(desired), observed),
    async apply(changes, _observed, ctx) {
      const kubeconfig = def.kubeconfig(ctx);
      if (!kubeconfig) throw new Error(`${def.name}: no kubeconfig for ${def.target} (${def.missingKubeconfig})`);
      await applyComponents(def.name, components(ctx.desired), changes, await target(ctx, kubeconfig), ctx.log, {
        readyTimeoutMs: deps.rolloutTimeoutMs,
      });
    },
  };
}

/**
 * Layer `seed-infra`: the seed's OpenStack resources (security group, network,
 * subnet, router, keypair, data volume, server, floating IP), named after the
 * environment and tagged with its tag. The cloud is the state.
 */
import type { Desired } from '../../model/desired.js';
import type { Layer, LayerContext } from '../../engine/types.js';
import { createOpenStackClient } from '../../openstack/client.js';
import type { OpenStackClient } from '../../openstack/types.js';
import { DEFAULT_WAITS, SeedInfraApplier, type WaitSettings } from './apply.js';
import { diffDestroySeedInfra, diffSeedInfra, LAYER, resolve } from './diff.js';
import { observeSeedInfra, type SeedInfraObserved } from './observe.js';
import { outputsOf, seedInfraOutputs, type SeedDataVolume, type SeedInfraOutputs } from './outputs.js';
import { seedSpec } from './spec.js';

export interface SeedInfraOptions {
  /** A client, or how to make one (default: REST, from the environment's clouds.yaml). */
  client?: OpenStackClient | ((desired: Desired, ctx: LayerContext) => OpenStackClient);
  waits?: Partial<WaitSettings>;
  /** Most apply steps running at once (default 8; 1 runs them one by one). */
  parallelism?: number;
}

export type { SeedInfraObserved };
export { seedInfraOutputs, type SeedInfraOutputs } from './outputs.js';

export function seedInfraLayer(
  opts: SeedInfraOptions = {},
): Layer<SeedInfraObserved, SeedInfraOutputs> & { client(): OpenStackClient | undefined } {
  let client: OpenStackClient | undefined = typeof opts.client === 'object' ? opts.client : undefined;
  const clientFor = (ctx: LayerContext): OpenStackClient => {
    if (!client) {
      client =
        typeof opts.client === 'function'
          ? opts.client(ctx.desired, ctx)
          : createOpenStackClient(ctx.desired.config.openstack, ctx.desired.dir, { log: (m) => ctx.log.debug(m) });
    }
    return client;
  };
  const waits = { ...DEFAULT_WAITS, ...opts.waits };

  return {
    name: LAYER,
    outputs: seedInfraOutputs,
    client: () => client,

    async observe(ctx) {
      const c = clientFor(ctx);
      const o = await observeSeedInfra(c, ctx.desired);
      ctx.publish(seedInfraOutputs, observedOutputs(ctx, o));
      return o;
    },

    diff: (desired, observed) => diffSeedInfra(desired, observed),
    diffDestroy: (desired, observed) => diffDestroySeedInfra(desired, observed),

    async apply(changes, observed, ctx) {
      await new SeedInfraApplier(clientFor(ctx), ctx.desired, ctx, waits, opts.parallelism).apply(changes, observed);
    },
  };
}

/** Outputs from what exists, so later layers can plan against a seed that is already there. */
function observedOutputs(ctx: LayerContext, o: SeedInfraObserved): SeedInfraOutputs {
  const spec = seedSpec(ctx.desired);
  const server = o.servers.length === 1 ? o.servers[0] : undefined;
  let externalNetworkId: string | undefined;
  let flavorName: string | undefined;
  let networkId: string | undefined = o.networks.length === 1 ? o.networks[0]!.id : undefined;
  let floatingIp = o.floatingIps.length === 1 ? o.floatingIps[0] : undefined;
  try {
    const r = resolve(ctx.desired, o);
    externalNetworkId = r.externalNetwork?.id;
    flavorName = r.flavor.name;
    networkId = r.network?.id ?? r.existingNetwork?.id;
    floatingIp = r.floatingIp;
  } catch {
    // The diff reports the problem; the outputs stay partial.
  }
  // Two volumes by one name is an error the diff reports; until then the volume counts as not made.
  const dataVolume: SeedDataVolume = !o.blockStorage
    ? { state: 'no-block-storage' }
    : o.volumes.length === 1
      ? { state: 'created', id: o.volumes[0]!.id }
      : { state: 'not-created' };
  return outputsOf(ctx.desired, {
    server,
    serverPorts: o.serverPorts,
    floatingIp,
    networkId,
    keypairName: o.keypair ? spec.names.keypair : undefined,
    externalNetworkId,
    flavorName,
    dataVolume,
  });
}

/**
 * Layer seed-k3s: over SSH, the seed's data volume mounted at the K3s state
 * dir, K3s at the pinned version (binary from the runner, checksummed), and
 * its API reachable from the runner through an SSH tunnel (published as
 * this layer's outputs for the layers after it).
 */
import type { Layer, LayerContext } from '../../engine/types.js';
import { createKubeClient } from '../../kube/index.js';
import { SshConnectionLostError } from '../../ssh/index.js';
import { createToolbox } from '../../tools/index.js';
import { waitFor } from '../../util/wait.js';
import { diffSeedK3s, type SeedK3sObserved } from './diff.js';
import { seedTarget } from './endpoint.js';
import { linkFor, type LinkOptions, type SeedLink } from './link.js';
import { runBootstrap, stagedBinaryPath, type BootstrapParams } from './remote.js';
import { seedInfraOutputs } from '../seed-infra/outputs.js';
import { seedK3sOutputs, type SeedK3sOutputs } from './outputs.js';

export type { SeedK3sObserved } from './diff.js';
export { seedK3sOutputs, type SeedK3sOutputs } from './outputs.js';

export interface SeedK3sOptions {
  /** Path of the K3s binary for a version; default: the toolbox (mirror or upstream, checksummed, cached). */
  k3sBinary?: (version: string, ctx: LayerContext) => Promise<string>;
  /** The data volume, instead of the one seed-infra reports: its id, or the device path. */
  dataVolume?: { volumeId?: string; device?: string };
  /** Bootstrap runs per apply when the connection drops mid-way (the script is idempotent). Default 2. */
  bootstrapAttempts?: number;
  /** How long the script waits for the K3s API after a (re)start. Default 300 s. */
  apiTimeoutSeconds?: number;
  ssh?: LinkOptions;
  /** Ask the API for its version through a kubeconfig (tests inject a fake); default: a Kubernetes client. */
  apiVersion?: (kubeconfig: string) => Promise<string>;
}

/** `$CAPI_MGMT_K3S_BINARY` (an already verified local file) wins; otherwise the toolbox fetches it. */
async function defaultK3sBinary(version: string, ctx: LayerContext): Promise<string> {
  const local = process.env.CAPI_MGMT_K3S_BINARY;
  if (local) {
    ctx.log.info(`using the K3s binary at ${local} ($CAPI_MGMT_K3S_BINARY); the seed checks it reports ${version}`);
    return local;
  }
  return createToolbox({
    mirrors: ctx.desired.config.mirrors,
    log: ctx.log,
    cache: ctx.dirs.toolCache,
    tempDir: ctx.dirs.temp,
  }).k3s(version);
}

/** Why the data volume cannot be named yet; `pending` when seed-infra will create it in this run. */
class UnknownVolumeError extends Error {
  constructor(
    message: string,
    readonly pending: boolean,
  ) {
    super(message);
  }
}

function volumeParams(ctx: LayerContext, o: SeedK3sOptions): Pick<BootstrapParams, 'dataVolumeId' | 'dataDevice'> {
  if (o.dataVolume?.device) return { dataDevice: o.dataVolume.device };
  if (o.dataVolume?.volumeId) return { dataVolumeId: o.dataVolume.volumeId };
  const infra = ctx.outputs.get(seedInfraOutputs);
  if (!infra) {
    throw new UnknownVolumeError(
      'seed-k3s: the seed data volume is unknown because seed-infra is not part of this run',
      false,
    );
  }
  switch (infra.dataVolume.state) {
    case 'created':
      return { dataVolumeId: infra.dataVolume.id };
    case 'no-block-storage':
      return { dataDevice: 'none' };
    case 'not-created':
      throw new UnknownVolumeError(
        'seed-k3s: seed-infra has not created the seed data volume, so it cannot be found on the seed',
        true,
      );
  }
}

/** The API answers through the tunnel with the rewritten kubeconfig (TLS verified), within 15 s. */
const clientVersion = (kubeconfig: string): Promise<string> => createKubeClient(kubeconfig).serverVersion();

async function probeApi(kubeconfig: string, version = clientVersion): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), 15_000);
  });
  try {
    return await Promise.race([version(kubeconfig), timeout]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function reachApi(
  link: SeedLink,
  ctx: LayerContext,
  waitMs: number,
  apiVersion?: SeedK3sOptions['apiVersion'],
): Promise<string> {
  const kubeconfig = await link.openApi();
  const version = await waitFor({
    what: 'the K3s API through the SSH tunnel',
    timeoutMs: waitMs,
    intervalMs: 2000,
    check: () => probeApi(kubeconfig, apiVersion),
    log: (m) => ctx.log.info(m),
  });
  ctx.log.info(`K3s API reachable through the SSH tunnel (Kubernetes ${version})`);
  return kubeconfig;
}

export function seedK3sLayer(o: SeedK3sOptions = {}): Layer<SeedK3sObserved, SeedK3sOutputs> {
  return {
    name: 'seed-k3s',
    outputs: seedK3sOutputs,

    async observe(ctx) {
      const target = seedTarget(ctx.desired, ctx.outputs.get(seedInfraOutputs));
      if (!target) return { reachable: false, healthy: false, drift: [] };
      const link = await linkFor(ctx, target, o.ssh);
      const session = await link.ssh();
      // Planning need not stop for an unknown volume id; apply refuses it.
      let volume: ReturnType<typeof volumeParams> = { dataDevice: 'none' };
      const warnings: string[] = [];
      try {
        volume = volumeParams(ctx, o);
      } catch (e) {
        // Before seed-infra has made the volume, its id is simply not known yet.
        if (!(e instanceof UnknownVolumeError)) throw e;
        if (!e.pending) warnings.push(`${e.message}: apply will fail until it is known`);
      }
      const check = await runBootstrap(session, { mode: 'check', version: ctx.desired.config.versions.k3s, ...volume });
      let healthy = false;
      if (check.healthy) {
        const kubeconfig = await link.openApi();
        healthy = (await probeApi(kubeconfig, o.apiVersion)) !== undefined;
        if (healthy) ctx.publish(seedK3sOutputs, link.outputs(kubeconfig));
      }
      return {
        reachable: true,
        ...(check.version ? { version: check.version } : {}),
        healthy,
        // The binary is judged by version; the rest is drift to repair.
        drift: check.steps.filter((s) => s !== 'binary'),
        hostKey: session.hostKey,
        trustedOnFirstUse: link.trustedOnFirstUse,
        ...(warnings.length > 0 ? { warnings } : {}),
      };
    },

    diff: diffSeedK3s,

    async apply(_changes, _observed, ctx) {
      const target = seedTarget(ctx.desired, ctx.outputs.get(seedInfraOutputs));
      if (!target)
        throw new Error('seed-k3s: no SSH address for the seed (seed-infra reported none, seed.ssh.address unset)');
      const version = ctx.desired.config.versions.k3s;
      const volume = volumeParams(ctx, o);
      const link = await linkFor(ctx, target, o.ssh);
      const binary = await (o.k3sBinary ?? defaultK3sBinary)(version, ctx);
      const attempts = o.bootstrapAttempts ?? 2;
      for (let attempt = 1; ; attempt++) {
        try {
          const session = await link.ssh();
          const staged = stagedBinaryPath(version);
          const up = await session.upload({ path: binary }, staged, { mode: '0755' });
          ctx.log.info(
            up.uploaded
              ? `uploaded K3s ${version} (sha256 ${up.sha256.slice(0, 12)}, verified)`
              : `K3s ${version} is already on the seed`,
          );
          const r = await runBootstrap(
            session,
            {
              mode: 'apply',
              version,
              binary: { path: staged, sha256: up.sha256 },
              ...volume,
              ...(o.apiTimeoutSeconds ? { apiTimeoutSeconds: o.apiTimeoutSeconds } : {}),
            },
            (line) => ctx.log.info(line),
          );
          ctx.log.info(
            r.changed ? `K3s ${r.version}: changed ${r.steps.join(', ')}` : `K3s ${r.version}: nothing changed`,
          );
          break;
        } catch (e) {
          if (!(e instanceof SshConnectionLostError) || attempt >= attempts) throw e;
          ctx.log.warn(`${e.message}; reconnecting and running the bootstrap again (it is idempotent)`);
        }
      }
      ctx.publish(seedK3sOutputs, link.outputs(await reachApi(link, ctx, 60_000, o.apiVersion)));
    },
  };
}

/**
 * One SSH connection to the seed per run, shared by observe and apply, with
 * the K3s API tunnel on top. Closed by the engine's cleanup.
 */
import { MissingSecretError } from '../../engine/errors.js';
import type { LayerContext } from '../../engine/types.js';
import { fingerprint, waitForSsh, type PortForward, type SshSession, type WaitForSshOptions } from '../../ssh/index.js';
import { apiAddressOf, forTunnel, parseKubeconfig, stringifyKubeconfig } from '../../kube/index.js';
import { readK3sKubeconfig } from './remote.js';
import type { SeedTarget } from './endpoint.js';
import type { SeedK3sOutputs } from './outputs.js';

export interface LinkOptions {
  /** SSH retry pacing (tests shorten it). */
  intervalMs?: number;
  progressMs?: number;
  /** Open the connection (tests inject a fake seed); default: `connectSsh`. */
  connect?: WaitForSshOptions['connect'];
}

export class SeedLink {
  private session: SshSession | undefined;
  private tunnel: PortForward | undefined;
  private readonly forwards = new Map<string, PortForward>();
  private pinned: string | undefined;

  constructor(
    private readonly ctx: LayerContext,
    readonly target: SeedTarget,
    private readonly o: LinkOptions = {},
  ) {
    this.pinned = target.hostKey;
  }

  private privateKey(): string {
    const key = this.ctx.secrets.sshPrivateKey;
    if (!key) {
      throw new MissingSecretError(
        'sshPrivateKey',
        'no SSH private key for the seed: the run was given no sshPrivateKey secret (the private half of seed.sshPublicKey)',
      );
    }
    this.ctx.redactor.add(key);
    return key;
  }

  /** A live session, (re)connecting and waiting for the seed's SSH as needed. */
  async ssh(): Promise<SshSession> {
    if (this.session && !this.session.isClosed) return this.session;
    await this.dropTunnel();
    const { log, desired } = this.ctx;
    const session = await waitForSsh(
      { ...this.target, ...(this.pinned ? { hostKey: this.pinned } : {}), privateKey: this.privateKey() },
      {
        timeoutMs: desired.config.seed.ssh.connectTimeoutSeconds * 1000,
        ...(this.o.intervalMs ? { intervalMs: this.o.intervalMs } : {}),
        ...(this.o.progressMs ? { progressMs: this.o.progressMs } : {}),
        ...(this.o.connect ? { connect: this.o.connect } : {}),
        log: (m) => log.info(m),
      },
    );
    if (!this.pinned) {
      log.info(`seed host key ${fingerprint(session.hostKey)} trusted on first use`);
      // Later reconnects in this run must meet the same key.
      this.pinned = session.hostKey;
    }
    this.session = session;
    return session;
  }

  get trustedOnFirstUse(): boolean {
    return this.target.hostKey === undefined;
  }

  /**
   * Read K3s's kubeconfig, forward a local port to the API address in it and
   * return the kubeconfig rewritten to go through the tunnel.
   */
  async openApi(): Promise<string> {
    const session = await this.ssh();
    const raw = await readK3sKubeconfig(session);
    this.ctx.redactor.addDocument(raw);
    const k3s = parseKubeconfig(raw, 'the K3s kubeconfig');
    const api = apiAddressOf(k3s);
    if (!this.tunnel || this.tunnel.remote.host !== api.host || this.tunnel.remote.port !== api.port) {
      await this.dropTunnel();
      this.tunnel = await session.forwardLocal(api.host, api.port);
      this.ctx.log.debug(`K3s API ${api.host}:${api.port} on the seed is at 127.0.0.1:${this.tunnel.port}`);
    }
    return stringifyKubeconfig(forTunnel(k3s, this.tunnel.port));
  }

  /** A local port forwarded through the seed to host:port, kept for the run (re-made after a reconnect). */
  async reach(host: string, port: number): Promise<number> {
    const session = await this.ssh();
    const key = `${host}:${port}`;
    let fwd = this.forwards.get(key);
    if (!fwd) {
      fwd = await session.forwardLocal(host, port);
      this.forwards.set(key, fwd);
      this.ctx.log.debug(`${key} as the seed sees it is at 127.0.0.1:${fwd.port}`);
    }
    return fwd.port;
  }

  /** What the runner gets from the seed for later layers. */
  outputs(kubeconfig: string): SeedK3sOutputs {
    return { kubeconfig, reach: (host, port) => this.reach(host, port) };
  }

  private async dropTunnel(): Promise<void> {
    await this.tunnel?.close();
    this.tunnel = undefined;
    for (const f of this.forwards.values()) await f.close();
    this.forwards.clear();
  }

  async close(): Promise<void> {
    await this.dropTunnel();
    await this.session?.close();
    this.session = undefined;
  }
}

const links = new WeakMap<LayerContext, SeedLink>();

/** The run's link to this target; a different target (seed rebuilt elsewhere) gets a new one. */
export async function linkFor(ctx: LayerContext, target: SeedTarget, o?: LinkOptions): Promise<SeedLink> {
  const have = links.get(ctx);
  const same =
    have &&
    have.target.host === target.host &&
    have.target.port === target.port &&
    have.target.user === target.user &&
    have.target.hostKey === target.hostKey &&
    have.target.jumpHost?.host === target.jumpHost?.host &&
    have.target.jumpHost?.port === target.jumpHost?.port;
  if (have && same) return have;
  if (have) await have.close();
  const link = new SeedLink(ctx, target, o);
  links.set(ctx, link);
  if (!have) ctx.onCleanup(() => links.get(ctx)?.close());
  return link;
}

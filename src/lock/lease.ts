/**
 * The lock as a Kubernetes Lease (coordination.k8s.io/v1) on the seed.
 * Every write carries the resourceVersion it read, so two runs racing for
 * a free or expired lease cannot both win: the API server refuses one (409).
 */
import { createKubeClient, isConflict, type KubeClient, type KubeObject } from '../kube/index.js';
import type { AcquireResult, LockBackend, LockState } from './types.js';

const LEASE_NAMESPACE = 'kube-system';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
}

interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaseLock implements LockBackend {
  readonly description: string;
  private readonly kube: KubeClient;
  private readonly ref;

  constructor(
    kubeconfig: string | KubeClient,
    private readonly name: string,
    private readonly namespace = LEASE_NAMESPACE,
  ) {
    this.kube = typeof kubeconfig === 'string' ? createKubeClient(kubeconfig) : kubeconfig;
    this.ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name, namespace };
    this.description = `Lease ${namespace}/${name} on the seed`;
  }

  private async read(): Promise<Lease | undefined> {
    return (await this.kube.get(this.ref)) as Lease | undefined;
  }

  private stateOf(l: Lease): LockState | undefined {
    const holder = l.spec?.holderIdentity;
    if (!holder) return undefined;
    const renewed = Date.parse(l.spec?.renewTime ?? l.spec?.acquireTime ?? '') || 0;
    return { holder, expiresAt: new Date(renewed + (l.spec?.leaseDurationSeconds ?? 0) * 1000) };
  }

  private body(holder: string, ttl: number, resourceVersion?: string, acquired?: string): Lease {
    const now = microTime(new Date());
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
      spec: { holderIdentity: holder, leaseDurationSeconds: ttl, acquireTime: acquired ?? now, renewTime: now },
    };
  }

  async tryAcquire(holder: string, ttlSeconds: number, abandoned?: (s: LockState) => boolean): Promise<AcquireResult> {
    const lease = await this.read();
    try {
      if (!lease) {
        await this.kube.create(this.body(holder, ttlSeconds));
        return { ok: true };
      }
      const current = this.stateOf(lease);
      const ours = current?.holder === holder;
      if (current && !ours && current.expiresAt.getTime() > Date.now() && !abandoned?.(current)) {
        return { ok: false, current };
      }
      // Free, expired or abandoned (a crashed run: take it over) or ours (renew); the resourceVersion makes it a compare-and-swap.
      await this.kube.replace(
        this.body(holder, ttlSeconds, lease.metadata.resourceVersion, ours ? lease.spec?.acquireTime : undefined),
      );
      return { ok: true };
    } catch (e) {
      if (isConflict(e)) return this.lost();
      throw e;
    }
  }

  /** Someone wrote between our read and our write: report them as the holder. */
  private async lost(): Promise<AcquireResult> {
    const l = await this.read();
    const current = l && this.stateOf(l);
    return { ok: false, current: current ?? { holder: 'another run', expiresAt: new Date() } };
  }

  async renew(holder: string, ttlSeconds: number): Promise<void> {
    const r = await this.tryAcquire(holder, ttlSeconds);
    if (!r.ok) throw new Error(`${this.description} was taken over by ${r.current.holder}`);
  }

  async release(holder: string): Promise<void> {
    const lease = await this.read();
    if (!lease || lease.spec?.holderIdentity !== holder) return;
    try {
      // Gone already (404) is fine: delete reports false.
      await this.kube.delete(this.ref, { resourceVersion: lease.metadata.resourceVersion });
    } catch (e) {
      // Changed since we read it: taken over after expiry, so no longer ours to delete.
      if (!isConflict(e)) throw e;
    }
  }
}

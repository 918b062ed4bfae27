/**
 * The lock as a Kubernetes Lease (coordination.k8s.io/v1) on the seed.
 * Every write carries the resourceVersion it read, so two runs racing for
 * a free or expired lease cannot both win: the API server refuses one (409).
 */
import { kubeRequester, type KubeReply, type KubeRequester } from './kube-rest.js';
import type { AcquireResult, LockBackend, LockState } from './types.js';

export const LEASE_NAMESPACE = 'kube-system';

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string };
}

/** MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

function check(r: KubeReply, what: string): void {
  if (r.status >= 200 && r.status < 300) return;
  const msg = (r.body as { message?: string } | undefined)?.message ?? String(r.body ?? '');
  throw new Error(`kubernetes API: ${what}: HTTP ${r.status} ${msg}`.trim());
}

export class LeaseLock implements LockBackend {
  readonly description: string;
  private readonly kube: KubeRequester;
  private readonly path: string;

  constructor(
    kubeconfig: string | KubeRequester,
    private readonly name: string,
    private readonly namespace = LEASE_NAMESPACE,
  ) {
    this.kube = typeof kubeconfig === 'string' ? kubeRequester(kubeconfig) : kubeconfig;
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
    this.description = `Lease ${namespace}/${name} on the seed`;
  }

  private async read(): Promise<Lease | undefined> {
    const r = await this.kube.request('GET', `${this.path}/${this.name}`);
    if (r.status === 404) return undefined;
    check(r, `read ${this.description}`);
    return r.body as Lease;
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

  async tryAcquire(holder: string, ttlSeconds: number): Promise<AcquireResult> {
    const lease = await this.read();
    if (!lease) {
      const r = await this.kube.request('POST', this.path, this.body(holder, ttlSeconds));
      if (r.status === 409) return this.lost();
      check(r, `create ${this.description}`);
      return { ok: true };
    }
    const current = this.stateOf(lease);
    const ours = current?.holder === holder;
    if (current && !ours && current.expiresAt.getTime() > Date.now()) return { ok: false, current };
    // Free, expired (a crashed run: take it over) or ours (renew); the resourceVersion makes it a compare-and-swap.
    const r = await this.kube.request(
      'PUT',
      `${this.path}/${this.name}`,
      this.body(holder, ttlSeconds, lease.metadata.resourceVersion, ours ? lease.spec?.acquireTime : undefined),
    );
    if (r.status === 409) return this.lost();
    check(r, `update ${this.description}`);
    return { ok: true };
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
    const r = await this.kube.request('DELETE', `${this.path}/${this.name}`, {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { resourceVersion: lease.metadata.resourceVersion },
    });
    // 409: changed since we read it (taken over after expiry); 404: already gone.
    if (r.status !== 409 && r.status !== 404) check(r, `delete ${this.description}`);
  }
}

/** Octavia (load-balancer v2): only what the pre-flight checks read. */
import type { Session } from './session.js';
import type { LoadBalancer, QuotaUsage } from './types.js';

type Raw = Record<string, unknown>;

export class OctaviaApi {
  constructor(private readonly session: Session) {}

  /** Catalogs list Octavia with or without its version; requests name `/v2/lbaas/...` themselves. */
  private async url(path: string): Promise<string> {
    const root = (await this.session.endpoint('load-balancer')).replace(/\/v2(\.0)?$/, '');
    return `${root}/v2/lbaas${path}`;
  }

  async listLoadBalancers(): Promise<LoadBalancer[]> {
    const project = await this.session.projectId();
    const r = await this.session.request('load-balancer', 'GET', await this.url('/loadbalancers'), {
      query: { project_id: project },
    });
    return ((r.body?.loadbalancers ?? []) as Raw[]).map((l) => ({
      id: String(l.id ?? ''),
      name: String(l.name ?? ''),
    }));
  }

  async loadBalancerQuota(): Promise<QuotaUsage & { loadBalancers: LoadBalancer[] }> {
    const project = await this.session.projectId();
    if (!project) throw new Error('load-balancer: the token names no project, so its quota cannot be read');
    const r = await this.session.request('load-balancer', 'GET', await this.url(`/quotas/${project}`));
    const q = (r.body?.quota ?? {}) as Raw;
    // Octavia has spelt it both ways; null means the default, which we cannot see: treat as unlimited.
    const raw = q.load_balancer ?? q.loadbalancer;
    const loadBalancers = await this.listLoadBalancers();
    return { limit: raw === null || raw === undefined ? -1 : Number(raw), used: loadBalancers.length, loadBalancers };
  }
}

/**
 * A fake helm behind the `Helm` interface, installing into a `FakeKube`.
 * Charts are declared by name as functions from (release, namespace,
 * values) to objects. It keeps helm's release records where they matter:
 * revisions, statuses (pending-install/upgrade while working, deployed,
 * failed), "another operation is in progress" for a release left pending,
 * `--wait` on the release's Deployments, `--atomic` rolling a failed
 * upgrade back (or uninstalling a failed first install), and the user
 * values `helm get values` returns.
 */
import { HelmError, type Helm, type ReleaseInfo, type UpgradeOptions } from '../../src/helm/index.js';
import type { KubeObject } from '../../src/kube/index.js';
import { refOf } from '../../src/kube/index.js';
import type { FakeKube } from './kube.js';

export type ChartRender = (release: string, namespace: string, values: Record<string, unknown>) => KubeObject[];

interface Release {
  info: ReleaseInfo;
  values: Record<string, unknown>;
  objects: KubeObject[];
  /** The last deployed revision's state, for a rollback. */
  previous?: { info: ReleaseInfo; values: Record<string, unknown>; objects: KubeObject[] };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
function mergeValues(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(v) && isObject(out[k]) ? mergeValues(out[k], v) : v;
  return out;
}

export class FakeHelm implements Helm {
  readonly binary = '/fake/helm';
  readonly charts = new Map<string, ChartRender>();
  readonly releases = new Map<string, Release>();
  /** Every upgradeInstall, as `namespace/release chart-version`. */
  readonly installs: string[] = [];
  /** The next install dies half-way (process killed): the release stays pending. */
  crashNext = false;

  constructor(private readonly kube: FakeKube) {}

  async version(): Promise<string> {
    return '3.19.0';
  }

  private key(release: string, namespace: string): string {
    return `${namespace}/${release}`;
  }

  async status(release: string, namespace: string): Promise<ReleaseInfo | undefined> {
    const r = this.releases.get(this.key(release, namespace));
    return r ? { ...r.info } : undefined;
  }

  async getValues(release: string, namespace: string): Promise<Record<string, unknown>> {
    const r = this.releases.get(this.key(release, namespace));
    if (!r)
      throw new HelmError(`helm get values ${namespace}/${release}: release: not found`, 'Error: release: not found');
    return structuredClone(r.values);
  }

  async upgradeInstall(o: UpgradeOptions): Promise<ReleaseInfo> {
    if (o.chart.kind === 'local') throw new HelmError('the fake helm installs only named charts', '');
    const name = o.chart.kind === 'repo' ? o.chart.name : o.chart.url.split('/').pop()!;
    const render = this.charts.get(name);
    if (!render) throw new HelmError(`Error: chart "${name}" version "${o.chart.version}" not found`, '');
    const key = this.key(o.release, o.namespace);
    const existing = this.releases.get(key);
    if (existing && existing.info.status.startsWith('pending-')) {
      throw new HelmError(
        `helm upgrade ${key}: Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress`,
        '',
      );
    }
    const nsRef = { apiVersion: 'v1', kind: 'Namespace', name: o.namespace };
    if (!(await this.kube.get(nsRef))) {
      if (!o.createNamespace)
        throw new HelmError(`Error: create: failed to create: namespaces "${o.namespace}" not found`, '');
      await this.kube.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } }]);
    }
    this.installs.push(`${key} ${name}-${o.chart.version}`);
    const values = (o.values ?? []).reduce<Record<string, unknown>>((acc, v) => mergeValues(acc, v), {});
    const first = !existing || (existing.info.status === 'failed' && existing.info.revision === 1);
    const info: ReleaseInfo = {
      name: o.release,
      namespace: o.namespace,
      revision: (existing?.info.revision ?? 0) + 1,
      status: first ? 'pending-install' : 'pending-upgrade',
      chart: name,
      chartVersion: o.chart.version,
      appVersion: o.chart.version,
    };
    const objects = render(o.release, o.namespace, values).map((x) => ({
      ...x,
      metadata: {
        ...x.metadata,
        labels: { ...x.metadata.labels, 'app.kubernetes.io/managed-by': 'Helm' },
        annotations: {
          ...x.metadata.annotations,
          'meta.helm.sh/release-name': o.release,
          'meta.helm.sh/release-namespace': o.namespace,
        },
      },
    }));
    const previous =
      existing?.info.status === 'deployed'
        ? { info: existing.info, values: existing.values, objects: existing.objects }
        : existing?.previous;
    const rel: Release = { info, values, objects, previous };
    this.releases.set(key, rel);
    if (this.crashNext) {
      this.crashNext = false;
      throw new HelmError(`helm upgrade --install ${key}: killed`, 'signal: killed');
    }
    try {
      await this.kube.apply(objects, { force: true });
      if (o.wait) {
        const deployments = objects
          .filter((x) => x.kind === 'Deployment')
          .map((x) => ({ namespace: x.metadata.namespace ?? o.namespace, name: x.metadata.name! }));
        await this.kube.waitForDeploymentsAvailable(deployments, { timeoutMs: o.timeoutMs ?? 300_000 });
      }
    } catch (e) {
      const why = (e as Error).message.includes('timed out') ? 'context deadline exceeded' : (e as Error).message;
      if (o.atomic && first) {
        await this.uninstall(o.release, o.namespace);
        throw new HelmError(
          `Error: INSTALL FAILED: release ${o.release} failed, and has been uninstalled due to atomic being set: ${why}`,
          why,
        );
      }
      if (o.atomic && previous) {
        await this.kube.apply(previous.objects, { force: true });
        this.releases.set(key, {
          ...previous,
          info: { ...previous.info, revision: info.revision + 1, status: 'deployed' },
        });
        throw new HelmError(
          `Error: UPGRADE FAILED: release ${o.release} failed, and has been rolled back due to atomic being set: ${why}`,
          why,
        );
      }
      rel.info = { ...info, status: 'failed' };
      throw new HelmError(`Error: ${first ? 'INSTALL' : 'UPGRADE'} FAILED: ${why}`, why);
    }
    // Objects the new revision no longer renders go, as helm's three-way merge removes them.
    for (const old of existing?.objects ?? []) {
      if (!objects.some((x) => x.kind === old.kind && x.metadata.name === old.metadata.name))
        await this.kube.delete(refOf(old));
    }
    rel.info = { ...info, status: 'deployed' };
    return { ...rel.info };
  }

  async uninstall(release: string, namespace: string): Promise<boolean> {
    const key = this.key(release, namespace);
    const r = this.releases.get(key);
    if (!r) return false;
    for (const o of r.objects) await this.kube.delete(refOf(o));
    this.releases.delete(key);
    return true;
  }
}

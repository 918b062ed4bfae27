/**
 * An in-memory Kubernetes API behind the `KubeClient` interface. It keeps
 * what matters to the layers: generated uids and resourceVersions, a
 * generation that moves with the spec, 409 AlreadyExists on a second create
 * and 409 Conflict on a stale resourceVersion, 404 for a namespace or a
 * kind that is not there (custom kinds are served only once their CRD
 * exists), server-side apply that merges the applied fields, dry runs that
 * persist nothing, and eventual status counted in reads: a CRD is
 * Established and a Deployment Available a few reads after each change (or
 * never, for names listed in `stuck`).
 */
import { randomUUID } from 'node:crypto';
import type {
  ApplyOptions,
  DeleteOptions,
  KindRef,
  KubeClient,
  ListOptions,
  ListResult,
  ObjectDiff,
  PatchOptions,
  ServiceAccountToken,
  TokenOptions,
  WaitOptions,
  WaitSpec,
  WatchOptions,
  WriteOptions,
} from '../../src/kube/index.js';
import {
  applyOrder,
  changedPaths,
  deploymentRolledOut,
  describeConditions,
  describeRef,
  hasCondition,
  KubeApiError,
  KubeConflictError,
  KubeNotFoundError,
  normalizeForDiff,
  refOf,
  type KubeObject,
  type ObjectRef,
  type RawRequest,
  type RawResponse,
  type WatchEvent,
} from '../../src/kube/index.js';
import { describeDeployment } from '../../src/kube/compare.js';
import { sleep, WaitTimeoutError } from '../../src/util/wait.js';

/** Kinds every API server serves, with whether they live in a namespace. */
const BUILTIN: Record<string, boolean> = {
  'v1/Namespace': false,
  'v1/ConfigMap': true,
  'v1/Secret': true,
  'v1/Service': true,
  'v1/ServiceAccount': true,
  'apps/v1/Deployment': true,
  'rbac.authorization.k8s.io/v1/ClusterRole': false,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': false,
  'rbac.authorization.k8s.io/v1/Role': true,
  'rbac.authorization.k8s.io/v1/RoleBinding': true,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': false,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': false,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': false,
  'coordination.k8s.io/v1/Lease': true,
};
const INITIAL_NAMESPACES = ['default', 'kube-system', 'kube-public'];

export interface KubeSettle {
  /** Reads after a CRD is written before it is Established. */
  crd: number;
  /** Reads after a Deployment's spec changes before it is Available. */
  deployment: number;
}

export type KubeFaultKind = 'unavailable' | 'conflict';

export interface KubeWrite {
  verb: 'create' | 'replace' | 'patch' | 'apply' | 'delete';
  target: string;
}

type Stored = KubeObject & { metadata: KubeObject['metadata'] & { name: string } };

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** JSON merge patch (RFC 7386): objects merge, null deletes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKube implements KubeClient {
  readonly server = 'https://127.0.0.1:6443';
  readonly settle: KubeSettle;
  /** Deployments (`namespace/name`) that never become Available. */
  readonly stuck = new Set<string>();
  readonly writes: KubeWrite[] = [];
  private readonly objects = new Map<string, Stored>();
  private readonly pending = new Map<string, number>();
  private readonly faults: Array<{ verb: string; kind?: string; name?: string; fault: KubeFaultKind; left: number }> =
    [];
  private rv = 100;

  constructor(settle: Partial<KubeSettle> = {}) {
    this.settle = { crd: 1, deployment: 2, ...settle };
    for (const name of INITIAL_NAMESPACES) this.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }

  /** The next matching call fails: a 503 from the API server, or a 409 from a concurrent writer. */
  fault(f: { verb: string; kind?: string; name?: string; fault: KubeFaultKind; times?: number }): void {
    this.faults.push({ ...f, left: f.times ?? 1 });
  }

  /** Every stored object (for assertions), without counting as reads. */
  all(kind?: string): KubeObject[] {
    return [...this.objects.values()].filter((o) => !kind || o.kind === kind).map(clone);
  }

  /** Change an object behind the tool's back (drift), bypassing every rule. */
  mutate(ref: ObjectRef, fn: (o: KubeObject) => void): void {
    const o = this.objects.get(this.key(ref));
    if (!o) throw new Error(`fake kube: no ${describeRef(ref)} to mutate`);
    fn(o);
    o.metadata.resourceVersion = String(++this.rv);
  }

  // ------------------------------------------------------------------ kinds

  private key(ref: { apiVersion: string; kind: string; namespace?: string; name: string }): string {
    return `${ref.apiVersion}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
  }

  /** Whether the kind is served, and namespaced; undefined when the server does not know it. */
  private served(apiVersion: string, kind: string): { namespaced: boolean } | undefined {
    const builtin = BUILTIN[`${apiVersion}/${kind}`];
    if (builtin !== undefined) return { namespaced: builtin };
    const [group, version] = apiVersion.split('/');
    for (const crd of this.objects.values()) {
      if (crd.kind !== 'CustomResourceDefinition' || !hasCondition(crd, 'Established')) continue;
      const spec = crd.spec as {
        group?: string;
        names?: { kind?: string };
        scope?: string;
        versions?: Array<{ name: string }>;
      };
      if (spec.group === group && spec.names?.kind === kind && spec.versions?.some((v) => v.name === version)) {
        return { namespaced: spec.scope !== 'Cluster' };
      }
    }
    return undefined;
  }

  private check(verb: string, ref: ObjectRef): void {
    const f = this.faults.find(
      (x) => x.left > 0 && x.verb === verb && (!x.kind || x.kind === ref.kind) && (!x.name || x.name === ref.name),
    );
    if (f) {
      f.left--;
      const op = { verb, target: describeRef(ref) };
      if (f.fault === 'unavailable')
        throw new KubeApiError(op, 503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
      throw new KubeConflictError(
        op,
        'Conflict',
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
  }

  /** Refuse a write the API server would: unknown kind, missing namespace. */
  private admit(verb: string, ref: ObjectRef): void {
    const op = { verb, target: describeRef(ref) };
    const served = this.served(ref.apiVersion, ref.kind);
    if (!served) throw new KubeNotFoundError(op, 'NotFound', `the server does not serve ${ref.apiVersion} ${ref.kind}`);
    if (served.namespaced) {
      if (!ref.namespace)
        throw new KubeApiError(
          op,
          400,
          'BadRequest',
          'the namespace of the object does not match the namespace on the request',
        );
      if (!this.objects.has(this.key({ apiVersion: 'v1', kind: 'Namespace', name: ref.namespace }))) {
        throw new KubeNotFoundError(op, 'NotFound', `namespaces "${ref.namespace}" not found`);
      }
    }
  }

  // ------------------------------------------------------------------ storage and eventual status

  private put(obj: KubeObject, previous?: Stored): Stored {
    const o = clone(obj) as Stored;
    const meta = o.metadata;
    meta.uid = previous?.metadata.uid ?? randomUUID();
    meta.creationTimestamp = previous?.metadata.creationTimestamp ?? new Date().toISOString();
    meta.resourceVersion = String(++this.rv);
    const specChanged = !previous || JSON.stringify(previous.spec) !== JSON.stringify(o.spec);
    meta.generation = (Number(previous?.metadata.generation) || 0) + (specChanged ? 1 : 0);
    if (o.status === undefined && previous?.status !== undefined) o.status = clone(previous.status);
    const key = this.key(refOf(o));
    this.objects.set(key, o);
    if (specChanged) this.startRollout(key, o);
    return o;
  }

  private startRollout(key: string, o: Stored): void {
    if (o.kind === 'CustomResourceDefinition') {
      o.status = { conditions: [{ type: 'NamesAccepted', status: 'True' }] };
      this.pending.set(key, this.settle.crd);
    } else if (o.kind === 'Deployment') {
      const replicas = Number((o.spec as { replicas?: number } | undefined)?.replicas ?? 1);
      const st = (o.status ?? {}) as Record<string, unknown>;
      o.status = {
        ...st,
        replicas,
        conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' }],
      };
      this.pending.set(
        key,
        this.stuck.has(`${o.metadata.namespace}/${o.metadata.name}`) ? Infinity : this.settle.deployment,
      );
    }
    if (this.pending.get(key) === 0) this.settleNow(key);
  }

  private settleNow(key: string): void {
    this.pending.delete(key);
    const o = this.objects.get(key);
    if (!o) return;
    if (o.kind === 'CustomResourceDefinition') {
      o.status = {
        conditions: [
          { type: 'NamesAccepted', status: 'True' },
          { type: 'Established', status: 'True' },
        ],
      };
    } else if (o.kind === 'Deployment') {
      const replicas = Number((o.spec as { replicas?: number } | undefined)?.replicas ?? 1);
      o.status = {
        observedGeneration: o.metadata.generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
          { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
        ],
      };
    }
    o.metadata.resourceVersion = String(++this.rv);
  }

  /** One read of the object: eventual statuses move on. */
  private read(key: string): Stored | undefined {
    const left = this.pending.get(key);
    if (left !== undefined) {
      if (left <= 1) this.settleNow(key);
      else this.pending.set(key, left - 1);
    }
    return this.objects.get(key);
  }

  /** Let every stuck rollout finish on its next read. */
  unstick(): void {
    this.stuck.clear();
    for (const [k, v] of this.pending) if (!Number.isFinite(v)) this.pending.set(k, 1);
  }

  private record(verb: KubeWrite['verb'], ref: ObjectRef, dryRun?: boolean): void {
    if (!dryRun) this.writes.push({ verb, target: describeRef(ref) });
  }

  // ------------------------------------------------------------------ KubeClient

  async serverVersion(): Promise<string> {
    return 'v1.34.4';
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    this.check('read', ref);
    if (!this.served(ref.apiVersion, ref.kind)) return undefined;
    return clone(this.read(this.key(ref)));
  }

  async list(apiVersion: string, kind: string, o: ListOptions = {}): Promise<KubeObject[]> {
    return (await this.listWithVersion(apiVersion, kind, o)).items;
  }

  async listWithVersion(apiVersion: string, kind: string, o: ListOptions = {}): Promise<ListResult> {
    if (!this.served(apiVersion, kind)) return { items: [], resourceVersion: '' };
    const labels = (o.labelSelector ?? '')
      .split(',')
      .filter(Boolean)
      .map((s) => s.split('='));
    const name = /metadata\.name=([^,]+)/.exec(o.fieldSelector ?? '')?.[1];
    const items: KubeObject[] = [];
    for (const [key, obj] of [...this.objects]) {
      if (obj.apiVersion !== apiVersion || obj.kind !== kind) continue;
      if (o.namespace && obj.metadata.namespace !== o.namespace) continue;
      if (name && obj.metadata.name !== name) continue;
      if (!labels.every(([k, v]) => obj.metadata.labels?.[k!] === v)) continue;
      items.push(clone(this.read(key)!));
    }
    return { items, resourceVersion: String(this.rv) };
  }

  async create(obj: KubeObject, o: WriteOptions = {}): Promise<KubeObject> {
    const ref = refOf(obj);
    this.check('create', ref);
    this.admit('create', ref);
    if (this.objects.has(this.key(ref))) {
      throw new KubeConflictError(
        { verb: 'create', target: describeRef(ref) },
        'AlreadyExists',
        `${ref.kind.toLowerCase()}s "${ref.name}" already exists`,
      );
    }
    this.record('create', ref, o.dryRun);
    return clone(o.dryRun ? obj : this.put(obj));
  }

  private current(verb: string, ref: ObjectRef, resourceVersion: string | undefined): Stored {
    const have = this.objects.get(this.key(ref));
    const op = { verb, target: describeRef(ref) };
    if (!have) throw new KubeNotFoundError(op, 'NotFound', `${ref.kind.toLowerCase()}s "${ref.name}" not found`);
    if (resourceVersion !== undefined && resourceVersion !== have.metadata.resourceVersion) {
      throw new KubeConflictError(
        op,
        'Conflict',
        `Operation cannot be fulfilled on ${ref.kind.toLowerCase()}s "${ref.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return have;
  }

  async replace(obj: KubeObject, o: WriteOptions = {}): Promise<KubeObject> {
    const ref = refOf(obj);
    this.check('replace', ref);
    const have = this.current('replace', ref, obj.metadata.resourceVersion);
    this.record('replace', ref, o.dryRun);
    const next = { ...clone(obj), status: have.status };
    return clone(o.dryRun ? next : this.put(next, have));
  }

  async replaceStatus(obj: KubeObject, o: WriteOptions = {}): Promise<KubeObject> {
    const ref = refOf(obj);
    this.check('replace status of', ref);
    const have = this.current('replace status of', ref, obj.metadata.resourceVersion);
    this.record('replace', ref, o.dryRun);
    if (o.dryRun) return clone({ ...have, status: obj.status });
    have.status = clone(obj.status);
    have.metadata.resourceVersion = String(++this.rv);
    return clone(have);
  }

  async patch(ref: ObjectRef, patch: unknown, o: PatchOptions): Promise<KubeObject> {
    const verb = o.type === 'apply' ? 'apply' : 'patch';
    this.check(verb, ref);
    const key = this.key(ref);
    let have = this.objects.get(key);
    if (o.type === 'apply' && !have) {
      this.admit('apply', ref);
      this.record('apply', ref, o.dryRun);
      const created = {
        ...(clone(patch) as KubeObject),
        metadata: { ...(patch as KubeObject).metadata, managedBy: undefined },
      };
      delete created.metadata.managedBy;
      return clone(o.dryRun ? created : this.put(created));
    }
    have = this.current(verb, ref, o.resourceVersion);
    if (o.type === 'json') throw new Error('the fake Kubernetes API does not do JSON patches');
    const body = clone(patch) as Record<string, unknown>;
    if (isObject(body.metadata)) delete body.metadata.resourceVersion;
    this.record(o.type === 'apply' ? 'apply' : 'patch', ref, o.dryRun);
    if (o.subresource === 'status') {
      const next = { ...clone(have), status: mergePatch(have.status, body.status) };
      if (!o.dryRun) {
        have.status = next.status;
        have.metadata.resourceVersion = String(++this.rv);
      }
      return clone(next);
    }
    const next = mergePatch(have, body) as KubeObject;
    next.status = have.status;
    return clone(o.dryRun ? next : this.put(next, have));
  }

  async delete(ref: ObjectRef, o: DeleteOptions = {}): Promise<boolean> {
    this.check('delete', ref);
    if (!this.served(ref.apiVersion, ref.kind)) return false;
    const key = this.key(ref);
    if (!this.objects.has(key)) return false;
    this.current('delete', ref, o.resourceVersion);
    this.record('delete', ref);
    this.objects.delete(key);
    this.pending.delete(key);
    if (ref.kind === 'Namespace') {
      for (const [k, v] of [...this.objects]) if (v.metadata.namespace === ref.name) this.objects.delete(k);
    }
    return true;
  }

  async createToken(sa: { namespace: string; name: string }, o: TokenOptions = {}): Promise<ServiceAccountToken> {
    const ref = { apiVersion: 'v1', kind: 'ServiceAccount', ...sa };
    if (!this.objects.has(this.key(ref))) {
      throw new KubeNotFoundError(
        { verb: 'request a token for', target: describeRef(ref) },
        'NotFound',
        `serviceaccounts "${sa.name}" not found`,
      );
    }
    const seconds = Math.max(600, o.expirationSeconds ?? 3600);
    return { token: `fake-token.${randomUUID()}`, expiresAt: new Date(Date.now() + seconds * 1000) };
  }

  async apply(objects: readonly KubeObject[], o: ApplyOptions = {}): Promise<KubeObject[]> {
    const out: KubeObject[] = [];
    const crds: string[] = [];
    for (const obj of applyOrder(objects)) {
      if (obj.kind !== 'CustomResourceDefinition' && obj.kind !== 'Namespace' && crds.length > 0) {
        await this.waitForCrdsEstablished(crds.splice(0), { timeoutMs: o.crdTimeoutMs ?? 60_000, log: o.log });
      }
      out.push(await this.patch(refOf(obj), obj, { type: 'apply', force: o.force }));
      if (obj.kind === 'CustomResourceDefinition') crds.push(obj.metadata.name!);
    }
    if (crds.length > 0) await this.waitForCrdsEstablished(crds, { timeoutMs: o.crdTimeoutMs ?? 60_000, log: o.log });
    return out;
  }

  async diff(objects: readonly KubeObject[], o: { force?: boolean } = {}): Promise<ObjectDiff[]> {
    const out: ObjectDiff[] = [];
    for (const obj of applyOrder(objects)) {
      const ref = refOf(obj);
      const live = await this.get(ref);
      if (!live) {
        out.push({ ref, action: 'create' });
        continue;
      }
      const would = await this.patch(ref, obj, { type: 'apply', force: o.force, dryRun: true });
      const paths = changedPaths(normalizeForDiff(live), normalizeForDiff(would));
      out.push(paths.length === 0 ? { ref, action: 'unchanged' } : { ref, action: 'update', paths });
    }
    return out;
  }

  /** Polls the store: every change after `resourceVersion` becomes an event (MODIFIED/ADDED/DELETED by key). */
  async *watch(k: KindRef, o: WatchOptions = {}): AsyncGenerator<WatchEvent, void, undefined> {
    const seen = new Map<string, string>();
    const deadline = Date.now() + (o.timeoutSeconds ?? 300) * 1000;
    const since = Number(o.resourceVersion ?? 0);
    let first = true;
    while (Date.now() < deadline && !o.signal?.aborted) {
      const { items } = await this.listWithVersion(k.apiVersion, k.kind, { ...o, namespace: k.namespace });
      const keys = new Set<string>();
      for (const item of items) {
        const key = this.key(refOf(item));
        keys.add(key);
        const rv = item.metadata.resourceVersion ?? '';
        if (seen.get(key) === rv) continue;
        const isNew = !seen.has(key);
        seen.set(key, rv);
        if (first && Number(rv) <= since) continue;
        yield { type: isNew ? 'ADDED' : 'MODIFIED', object: item } as WatchEvent;
      }
      for (const key of [...seen.keys()]) {
        if (!keys.has(key)) {
          seen.delete(key);
          yield {
            type: 'DELETED',
            object: { apiVersion: k.apiVersion, kind: k.kind, metadata: { name: key.split('/').pop() } },
          } as WatchEvent;
        }
      }
      first = false;
      await sleep(1);
    }
  }

  async waitFor(ref: ObjectRef, spec: WaitSpec): Promise<KubeObject> {
    const start = Date.now();
    const describe = spec.describe ?? describeConditions;
    for (;;) {
      const last = await this.get(ref);
      if (spec.ready(last)) return last!;
      if (Date.now() - start >= spec.timeoutMs)
        throw new WaitTimeoutError(spec.what, Date.now() - start, describe(last));
      await sleep(1);
    }
  }

  async waitForCondition(ref: ObjectRef, type: string, o: WaitOptions & { status?: string }): Promise<KubeObject> {
    const status = o.status ?? 'True';
    return this.waitFor(ref, {
      ...o,
      what: `${describeRef(ref)} to have ${type}=${status}`,
      ready: (x) => hasCondition(x, type, status),
    });
  }

  async waitForCrdsEstablished(names: readonly string[], o: WaitOptions): Promise<void> {
    for (const name of names) {
      await this.waitForCondition(
        { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name },
        'Established',
        o,
      );
    }
  }

  async waitForDeploymentsAvailable(
    refs: readonly { namespace: string; name: string }[],
    o: WaitOptions,
  ): Promise<void> {
    for (const r of refs) {
      const ref = { apiVersion: 'apps/v1', kind: 'Deployment', ...r };
      await this.waitFor(ref, {
        ...o,
        what: `${describeRef(ref)} to be Available`,
        ready: deploymentRolledOut,
        describe: describeDeployment,
      });
      o.log?.(`${describeRef(ref)} is Available`);
    }
  }

  async request(r: RawRequest): Promise<RawResponse> {
    if (r.method === 'GET' && r.path === '/version')
      return { status: 200, body: { gitVersion: await this.serverVersion() } } as RawResponse;
    return {
      status: 404,
      body: { kind: 'Status', reason: 'NotFound', message: `the fake serves no ${r.path}` },
    } as RawResponse;
  }
}

/**
 * The Kubernetes boundary: the one client the tool talks to any API server
 * through. Reads, writes with resourceVersion preconditions, server-side
 * apply and dry-run diffs, subresources (status, TokenRequest), watches and
 * the waits built on them, and a raw request for anything else. Requests go
 * through client-node's HTTP stack (see transport.ts); failures are the
 * typed errors of errors.ts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { forEachLimited } from '../util/graph.js';
import { backoff, sleep, WaitTimeoutError } from '../util/wait.js';
import {
  changedPaths,
  deploymentRolledOut,
  describeConditions,
  describeDeployment,
  hasCondition,
  normalizeForDiff,
} from './compare.js';
import {
  KubeApiError,
  KubeConnectionError,
  KubeGoneError,
  KubeNotFoundError,
  kubeApiError,
  type KubeOperation,
} from './errors.js';
import { parseKubeconfig, toClientConfig, type Kubeconfig } from './kubeconfig.js';
import { applyOrder, describeRef, isCrd, refOf, type KubeObject, type ObjectRef } from './objects.js';
import { Transport, type RawRequest, type RawResponse, type ResourcePaths } from './transport.js';
import { watchEvents, type WatchEvent } from './watch.js';

export const FIELD_MANAGER = 'capi-mgmt';

/** Requests a dry-run diff keeps in flight (an API server serves many at once; client-go's default QPS is 5+10 burst). */
const DIFF_PARALLELISM = 16;

/** A kind, optionally narrowed to one namespace (all namespaces when absent). */
export interface KindRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ListResult {
  items: KubeObject[];
  /** The list's resourceVersion: start a watch here to see every later change. Empty for an unknown kind. */
  resourceVersion: string;
}

export interface WriteOptions {
  /** Validate and admit, but persist nothing (`dryRun=All`). */
  dryRun?: boolean;
  /** Defaults to `capi-mgmt`. */
  fieldManager?: string;
}

/**
 * `merge`: JSON merge patch (RFC 7386); `strategic`: Kubernetes' strategic
 * merge (built-in kinds only); `json`: JSON patch (RFC 6902, an array of
 * operations); `apply`: server-side apply of a partial object.
 */
type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface PatchOptions extends WriteOptions {
  type: PatchType;
  /** Only if the object is still at this resourceVersion; otherwise a `KubeConflictError`. */
  resourceVersion?: string;
  /** Server-side apply only: take over fields another manager owns. */
  force?: boolean;
  /** Patch a subresource (`status`) instead of the object. */
  subresource?: 'status';
}

export interface DeleteOptions {
  /** Only if the object is still at this resourceVersion; otherwise a `KubeConflictError`. */
  resourceVersion?: string;
  /** Defaults to `Background`: dependents are removed after the object. */
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
}

export interface TokenOptions {
  /** Who the token is for (`aud`); the API server's own audience when empty. */
  audiences?: string[];
  /** Requested lifetime; the server may shorten it (at least 600). */
  expirationSeconds?: number;
}

export interface ServiceAccountToken {
  token: string;
  expiresAt: Date;
}

export interface WatchOptions extends ListOptions {
  /** Start after this version (from a list or the last event); without it the server sends ADDED for every object first. */
  resourceVersion?: string;
  /** The server ends the watch after this long (default 300). */
  timeoutSeconds?: number;
  /** Ask for BOOKMARK events (default true). */
  bookmarks?: boolean;
  /** Stops the watch; iteration then ends without an error. */
  signal?: AbortSignal;
}

export interface ApplyOptions {
  /** Take over fields another manager owns (`kubectl apply --force-conflicts`). */
  force?: boolean;
  /** Wait this long for applied CRDs to be Established before applying objects that may need them. */
  crdTimeoutMs?: number;
  log?: (message: string) => void;
}

export interface ObjectDiff {
  ref: ObjectRef;
  action: 'create' | 'update' | 'unchanged';
  /** Dotted paths that would change (updates only). */
  paths?: string[];
}

export interface WaitOptions {
  timeoutMs: number;
  /** How often to print a progress line. */
  progressMs?: number;
  log?: (message: string) => void;
}

export interface WaitSpec extends WaitOptions {
  /** A phrase for messages: "Deployment capi-system/capi-controller-manager to be Available". */
  what: string;
  ready: (o: KubeObject | undefined) => boolean;
  describe?: (o: KubeObject | undefined) => string;
}

/**
 * Every call that fails on the API side throws a `KubeApiError` (409 as
 * `KubeConflictError`, 404 as `KubeNotFoundError`, 410 as `KubeGoneError`);
 * one that gets no answer throws `KubeConnectionError`. Reads of a kind the
 * server does not serve (a CRD not installed) find nothing rather than fail.
 */
export interface KubeClient {
  /** The API server URL, for messages. */
  readonly server: string;
  /** `v1.34.4`. */
  serverVersion(): Promise<string>;

  /** The object, or undefined when it (or its kind) does not exist. */
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, o?: ListOptions): Promise<KubeObject[]>;
  /** A list with its resourceVersion, to start a watch from. */
  listWithVersion(apiVersion: string, kind: string, o?: ListOptions): Promise<ListResult>;

  /** Create (POST); an existing object is a `KubeConflictError` (reason `AlreadyExists`). */
  create(obj: KubeObject, o?: WriteOptions): Promise<KubeObject>;
  /**
   * Replace (PUT) the whole object. With `metadata.resourceVersion` set this
   * is a compare-and-swap: a newer version on the server is a `KubeConflictError`.
   */
  replace(obj: KubeObject, o?: WriteOptions): Promise<KubeObject>;
  /** Replace the status subresource; `metadata.resourceVersion` is a precondition as in `replace`. */
  replaceStatus(obj: KubeObject, o?: WriteOptions): Promise<KubeObject>;
  /** Patch the object or its status; `patch` is an object, or an array of operations for `json`. */
  patch(ref: ObjectRef, patch: unknown, o: PatchOptions): Promise<KubeObject>;
  /** Delete; true if it existed. A failed precondition is a `KubeConflictError`. */
  delete(ref: ObjectRef, o?: DeleteOptions): Promise<boolean>;
  /** A bound token for a ServiceAccount (the TokenRequest subresource). */
  createToken(serviceAccount: { namespace: string; name: string }, o?: TokenOptions): Promise<ServiceAccountToken>;

  /** Server-side apply in dependency order; CRDs are waited for before the objects after them. */
  apply(objects: readonly KubeObject[], o?: ApplyOptions): Promise<KubeObject[]>;
  /** What `apply` would change, from a server-side dry run; reads and dry runs only. */
  diff(objects: readonly KubeObject[], o?: { force?: boolean }): Promise<ObjectDiff[]>;

  /** Changes to a kind from `o.resourceVersion` on (list first with `listWithVersion` to miss none). */
  watch(kind: KindRef, o?: WatchOptions): AsyncIterable<WatchEvent>;
  /** Until `spec.ready` holds for the object: list, then watch from the list's version; polls if it cannot watch. */
  waitFor(ref: ObjectRef, spec: WaitSpec): Promise<KubeObject>;
  waitForCondition(ref: ObjectRef, type: string, o: WaitOptions & { status?: string }): Promise<KubeObject>;
  waitForCrdsEstablished(names: readonly string[], o: WaitOptions): Promise<void>;
  waitForDeploymentsAvailable(refs: readonly { namespace: string; name: string }[], o: WaitOptions): Promise<void>;

  /** Anything else: any status comes back as it is, with the body parsed; only a failed connection throws. */
  request(r: RawRequest): Promise<RawResponse>;
}

export function createKubeClient(kubeconfig: string | Kubeconfig): KubeClient {
  const kc = typeof kubeconfig === 'string' ? parseKubeconfig(kubeconfig) : kubeconfig;
  return new ApiClient(toClientConfig(kc));
}

const ok = (status: number): boolean => status >= 200 && status <= 299;

const kindTarget = (k: KindRef): string => `${k.kind} (${k.apiVersion})${k.namespace ? ` in ${k.namespace}` : ''}`;

function unknownKind(op: KubeOperation, k: KindRef): KubeNotFoundError {
  return new KubeNotFoundError(op, 'NotFound', `the server does not serve ${k.apiVersion} ${k.kind}`);
}

function withPrecondition(patch: unknown, type: PatchType, resourceVersion: string | undefined): unknown {
  if (resourceVersion === undefined) return patch;
  // The patched object carries the version; the server refuses the write with 409 if it is stale.
  if (type === 'json') {
    if (!Array.isArray(patch)) throw new Error('a json patch is an array of operations');
    return [{ op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion }, ...(patch as unknown[])];
  }
  const body = (patch ?? {}) as Record<string, unknown>;
  const metadata = { ...((body.metadata ?? {}) as Record<string, unknown>), resourceVersion };
  return { ...body, metadata };
}

class ApiClient implements KubeClient {
  private readonly transport: Transport;
  readonly server: string;

  constructor(kc: KubeConfig) {
    this.transport = Transport.for(kc);
    this.server = kc.getCurrentCluster()?.server ?? '(unknown server)';
  }

  /** Send, turning a transport failure into `KubeConnectionError`. */
  private async send(op: KubeOperation, r: RawRequest): Promise<RawResponse> {
    try {
      return await this.transport.send(r);
    } catch (e) {
      throw new KubeConnectionError(op, this.server, e);
    }
  }

  /** Send and expect 2xx: the parsed body, or the typed error. */
  private async call<T = KubeObject>(op: KubeOperation, r: RawRequest): Promise<T> {
    const res = await this.send(op, r);
    if (!ok(res.status)) throw kubeApiError(op, res.status, res.body);
    return res.body as T;
  }

  /** Discovery for a kind; undefined when the server does not serve it. */
  private async paths(op: KubeOperation, ref: KindRef & { name?: string }): Promise<ResourcePaths | undefined> {
    try {
      return await this.transport.paths(ref);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'number') throw kubeApiError(op, code, (e as { body?: unknown }).body);
      throw new KubeConnectionError(op, this.server, e);
    }
  }

  private async objectPath(op: KubeOperation, ref: ObjectRef): Promise<string> {
    const p = await this.paths(op, ref);
    if (!p?.object) throw unknownKind(op, ref);
    return p.object;
  }

  async serverVersion(): Promise<string> {
    const v = await this.call<{ gitVersion: string }>(
      { verb: 'read', target: 'server version' },
      { method: 'GET', path: '/version' },
    );
    return v.gitVersion;
  }

  async request(r: RawRequest): Promise<RawResponse> {
    return this.send({ verb: r.method, target: r.path }, r);
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const op = { verb: 'read', target: describeRef(ref) };
    const p = await this.paths(op, ref);
    if (!p?.object) return undefined;
    const res = await this.send(op, { method: 'GET', path: p.object });
    if (res.status === 404) return undefined;
    if (!ok(res.status)) throw kubeApiError(op, res.status, res.body);
    return res.body as KubeObject;
  }

  async list(apiVersion: string, kind: string, o: ListOptions = {}): Promise<KubeObject[]> {
    return (await this.listWithVersion(apiVersion, kind, o)).items;
  }

  async listWithVersion(apiVersion: string, kind: string, o: ListOptions = {}): Promise<ListResult> {
    const k = { apiVersion, kind, ...(o.namespace ? { namespace: o.namespace } : {}) };
    const op = { verb: 'list', target: kindTarget(k) };
    const p = await this.paths(op, k);
    if (!p) return { items: [], resourceVersion: '' };
    const list = await this.call<{ items?: KubeObject[]; metadata?: { resourceVersion?: string } }>(op, {
      method: 'GET',
      path: p.collection,
      query: { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector },
    });
    // Items of a list carry no apiVersion/kind; give them back so each stands alone.
    const items = (list.items ?? []).map((i) => ({ ...i, apiVersion, kind }));
    return { items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  private writeQuery(o: WriteOptions): Record<string, string | undefined> {
    return { fieldManager: o.fieldManager ?? FIELD_MANAGER, dryRun: o.dryRun ? 'All' : undefined };
  }

  async create(obj: KubeObject, o: WriteOptions = {}): Promise<KubeObject> {
    const ref = refOf(obj);
    const op = { verb: 'create', target: describeRef(ref) };
    const p = await this.paths(op, ref);
    if (!p) throw unknownKind(op, ref);
    return this.call(op, { method: 'POST', path: p.collection, query: this.writeQuery(o), body: obj });
  }

  async replace(obj: KubeObject, o: WriteOptions = {}): Promise<KubeObject> {
    const ref = refOf(obj);
    const op = { verb: 'replace', target: describeRef(ref) };
    const path = await this.objectPath(op, ref);
    return this.call(op, { method: 'PUT', path, query: this.writeQuery(o), body: obj });
  }

  async replaceStatus(obj: KubeObject, o: WriteOptions = {}): Promise<KubeObject> {
    const ref = refOf(obj);
    const op = { verb: 'replace status of', target: describeRef(ref) };
    const path = await this.objectPath(op, ref);
    return this.call(op, { method: 'PUT', path: `${path}/status`, query: this.writeQuery(o), body: obj });
  }

  async patch(ref: ObjectRef, patch: unknown, o: PatchOptions): Promise<KubeObject> {
    const verb = o.type === 'apply' ? (o.dryRun ? 'dry-run apply' : 'apply') : `${o.type}-patch`;
    const op = { verb: o.subresource ? `${verb} ${o.subresource} of` : verb, target: describeRef(ref) };
    const path = await this.objectPath(op, ref);
    return this.call(op, {
      method: 'PATCH',
      path: o.subresource ? `${path}/${o.subresource}` : path,
      query: { ...this.writeQuery(o), force: o.type === 'apply' && o.force ? 'true' : undefined },
      body: withPrecondition(patch, o.type, o.resourceVersion),
      contentType: PATCH_CONTENT_TYPES[o.type],
    });
  }

  async delete(ref: ObjectRef, o: DeleteOptions = {}): Promise<boolean> {
    const op = { verb: 'delete', target: describeRef(ref) };
    const p = await this.paths(op, ref);
    if (!p?.object) return false;
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: o.propagationPolicy ?? 'Background',
      ...(o.resourceVersion === undefined ? {} : { preconditions: { resourceVersion: o.resourceVersion } }),
    };
    const res = await this.send(op, { method: 'DELETE', path: p.object, body });
    if (res.status === 404) return false;
    if (!ok(res.status)) throw kubeApiError(op, res.status, res.body);
    return true;
  }

  async createToken(sa: { namespace: string; name: string }, o: TokenOptions = {}): Promise<ServiceAccountToken> {
    const ref = { apiVersion: 'v1', kind: 'ServiceAccount', ...sa };
    const op = { verb: 'request a token for', target: describeRef(ref) };
    const path = await this.objectPath(op, ref);
    const spec: Record<string, unknown> = { audiences: o.audiences ?? [] };
    if (o.expirationSeconds !== undefined) spec.expirationSeconds = o.expirationSeconds;
    const res = await this.call<{ status?: { token?: string; expirationTimestamp?: string } }>(op, {
      method: 'POST',
      path: `${path}/token`,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec },
    });
    const token = res.status?.token;
    if (!token) throw new KubeApiError(op, 200, 'NoToken', 'the TokenRequest answer holds no token');
    return { token, expiresAt: new Date(res.status?.expirationTimestamp ?? 0) };
  }

  async *watch(k: KindRef, o: WatchOptions = {}): AsyncGenerator<WatchEvent, void, undefined> {
    const op = { verb: 'watch', target: kindTarget(k) };
    const p = await this.paths(op, k);
    if (!p) throw unknownKind(op, k);
    const timeoutSeconds = o.timeoutSeconds ?? 300;
    // The server closes the watch after timeoutSeconds; a dead connection is given a little longer, then cut.
    const guard = AbortSignal.timeout((timeoutSeconds + 30) * 1000);
    const signal = o.signal ? AbortSignal.any([guard, o.signal]) : guard;
    let res;
    try {
      res = await this.transport.open({
        method: 'GET',
        path: p.collection,
        query: {
          watch: 'true',
          resourceVersion: o.resourceVersion || undefined,
          allowWatchBookmarks: o.bookmarks === false ? undefined : 'true',
          timeoutSeconds,
          labelSelector: o.labelSelector,
          fieldSelector: o.fieldSelector,
        },
        timeoutMs: 0,
        signal,
      });
    } catch (e) {
      if (o.signal?.aborted) return;
      throw new KubeConnectionError(op, this.server, e);
    }
    try {
      yield* watchEvents(op, res);
    } catch (e) {
      if (e instanceof KubeApiError) throw e;
      // Stopped by the caller: the iteration simply ends.
      if (o.signal?.aborted) return;
      throw new KubeConnectionError(op, this.server, e);
    }
  }

  private async serverSideApply(obj: KubeObject, force: boolean, dryRun: boolean): Promise<KubeObject> {
    return this.patch(refOf(obj), obj, { type: 'apply', force, dryRun });
  }

  async apply(objects: readonly KubeObject[], o: ApplyOptions = {}): Promise<KubeObject[]> {
    const ordered = applyOrder(objects);
    const out: KubeObject[] = [];
    const pendingCrds: string[] = [];
    for (const obj of ordered) {
      // Custom resources may need the CRDs applied just before them.
      if (!isCrd(obj) && obj.kind !== 'Namespace' && pendingCrds.length > 0) {
        await this.waitForCrdsEstablished(pendingCrds.splice(0), { timeoutMs: o.crdTimeoutMs ?? 60_000, log: o.log });
      }
      out.push(await this.serverSideApply(obj, o.force ?? false, false));
      if (isCrd(obj)) pendingCrds.push(obj.metadata.name!);
    }
    if (pendingCrds.length > 0) {
      await this.waitForCrdsEstablished(pendingCrds, { timeoutMs: o.crdTimeoutMs ?? 60_000, log: o.log });
    }
    return out;
  }

  /** Each object read and dry-run applied; independent of each other, so many at once (answers in apply order). */
  async diff(objects: readonly KubeObject[], o: { force?: boolean } = {}): Promise<ObjectDiff[]> {
    const ordered = applyOrder(objects);
    const out: ObjectDiff[] = new Array<ObjectDiff>(ordered.length);
    await forEachLimited([...ordered.keys()], DIFF_PARALLELISM, async (i) => {
      const obj = ordered[i]!;
      const ref = refOf(obj);
      const live = await this.get(ref);
      if (!live) {
        out[i] = { ref, action: 'create' };
        return;
      }
      const would = await this.serverSideApply(obj, o.force ?? false, true);
      const paths = changedPaths(normalizeForDiff(live), normalizeForDiff(would));
      out[i] = paths.length === 0 ? { ref, action: 'unchanged' } : { ref, action: 'update', paths };
    });
    return out;
  }

  /**
   * List the one object (by name), then watch from the list's version, so no
   * change in between is missed; list again when the server has forgotten
   * that version (410) or ends the watch. If the kind cannot be watched
   * (not served yet, or forbidden), poll.
   */
  async waitFor(ref: ObjectRef, spec: WaitSpec): Promise<KubeObject> {
    const start = Date.now();
    const deadline = start + spec.timeoutMs;
    const describe = spec.describe ?? describeConditions;
    let last: KubeObject | undefined;
    const progress = setInterval(() => {
      const s = Math.round((Date.now() - start) / 1000);
      spec.log?.(`still waiting for ${spec.what} (${s} s, ${describe(last)})`);
    }, spec.progressMs ?? 15_000);
    progress.unref();
    const pause = backoff(50, 2000);
    const byName = {
      ...(ref.namespace ? { namespace: ref.namespace } : {}),
      fieldSelector: `metadata.name=${ref.name}`,
    };
    try {
      for (;;) {
        const { items, resourceVersion } = await this.listWithVersion(ref.apiVersion, ref.kind, byName);
        last = items[0];
        if (spec.ready(last)) return last!;
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new WaitTimeoutError(spec.what, Date.now() - start, describe(last));
        if (!resourceVersion) {
          await sleep(Math.min(pause(), remaining)); // kind not served (yet): poll
          continue;
        }
        try {
          const events = this.watch(ref, {
            ...byName,
            resourceVersion,
            timeoutSeconds: Math.max(1, Math.ceil(Math.min(remaining, 300_000) / 1000)),
            signal: AbortSignal.timeout(remaining),
          });
          for await (const ev of events) {
            if (ev.type === 'BOOKMARK') continue;
            last = ev.type === 'DELETED' ? undefined : ev.object;
            if (spec.ready(last)) return last!;
          }
        } catch (e) {
          if (e instanceof KubeGoneError) continue; // list again
          await sleep(Math.min(pause(), Math.max(0, deadline - Date.now()))); // cannot watch: poll
        }
      }
    } finally {
      clearInterval(progress);
    }
  }

  async waitForCondition(ref: ObjectRef, type: string, o: WaitOptions & { status?: string }): Promise<KubeObject> {
    const status = o.status ?? 'True';
    return this.waitFor(ref, {
      ...o,
      what: `${describeRef(ref)} to have ${type}=${status}`,
      ready: (obj) => hasCondition(obj, type, status),
    });
  }

  async waitForCrdsEstablished(names: readonly string[], o: WaitOptions): Promise<void> {
    for (const name of names) {
      const ref = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name };
      await this.waitForCondition(ref, 'Established', o);
    }
  }

  async waitForDeploymentsAvailable(refs: readonly { namespace: string; name: string }[], o: WaitOptions) {
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
}

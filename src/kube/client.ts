/**
 * The Kubernetes boundary: server-side apply, dry-run diff, get/list/delete
 * and waits, for any kind, through @kubernetes/client-node's
 * KubernetesObjectApi. Everything else in the tool talks to `KubeClient`.
 */
import {
  ApiException,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  VersionApi,
  Watch,
  type KubeConfig,
  type KubernetesObject,
  type ResponseContext,
} from '@kubernetes/client-node';
import { sleep, WaitTimeoutError } from '../util/wait.js';
import {
  changedPaths,
  deploymentRolledOut,
  describeConditions,
  describeDeployment,
  hasCondition,
  normalizeForDiff,
} from './compare.js';
import { loadKubeconfig } from './kubeconfig.js';
import { applyOrder, describeRef, isCrd, plain, refOf, type KubeObject, type ObjectRef } from './objects.js';

export const FIELD_MANAGER = 'capi-mgmt';

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

export interface KubeClient {
  /** `v1.34.4`. */
  serverVersion(): Promise<string>;
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, o?: { namespace?: string; labelSelector?: string }): Promise<KubeObject[]>;
  /** Server-side apply in dependency order; CRDs are waited for before the objects after them. */
  apply(objects: readonly KubeObject[], o?: ApplyOptions): Promise<KubeObject[]>;
  /** What `apply` would change, from a server-side dry run; reads and dry runs only. */
  diff(objects: readonly KubeObject[], o?: { force?: boolean }): Promise<ObjectDiff[]>;
  /** Delete; true if it existed. */
  delete(ref: ObjectRef): Promise<boolean>;
  waitFor(ref: ObjectRef, spec: WaitSpec): Promise<KubeObject>;
  waitForCondition(ref: ObjectRef, type: string, o: WaitOptions & { status?: string }): Promise<KubeObject>;
  waitForCrdsEstablished(names: readonly string[], o: WaitOptions): Promise<void>;
  waitForDeploymentsAvailable(refs: readonly { namespace: string; name: string }[], o: WaitOptions): Promise<void>;
}

const isNotFound = (e: unknown): boolean => e instanceof ApiException && e.code === 404;

/** Turn client-node's exceptions into one-line messages that name the object. */
function apiError(action: string, what: string, e: unknown): Error {
  if (e instanceof ApiException) {
    const body = e.body as { message?: string } | string | undefined;
    const msg = typeof body === 'string' ? body : (body?.message ?? e.message);
    return new Error(`${action} ${what}: HTTP ${e.code}: ${msg}`);
  }
  return new Error(`${action} ${what}: ${(e as Error).message}`);
}

/**
 * client-node's generic object API with its typed (de)serialisation taken
 * out: the built-in models drop fields newer than the client, which would
 * silently strip them from applies and blur diffs. Bodies travel as JSON.
 */
class ObjectApi extends KubernetesObjectApi {
  /** The collection URL client-node derives from discovery, for watches. */
  async collectionPath(ref: ObjectRef): Promise<string> {
    const spec: KubernetesObject = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: {} };
    if (ref.namespace) spec.metadata!.namespace = ref.namespace;
    return this.specUriPath(spec, 'list');
  }

  async serverSideApply(obj: KubeObject, o: { force: boolean; dryRun: boolean }): Promise<KubeObject> {
    const path = await this.specUriPath(structuredClone(obj) as KubernetesObject, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', FIELD_MANAGER);
    if (o.force) ctx.setQueryParam('force', 'true');
    if (o.dryRun) ctx.setQueryParam('dryRun', 'All');
    ctx.setBody(JSON.stringify(obj));
    return (await this.requestPromise(ctx)) as unknown as KubeObject;
  }

  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext): Promise<T> {
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) {
      return JSON.parse(await response.body.text()) as T;
    }
    const body = await response.getBodyAsAny();
    let parsed: unknown = body;
    try {
      parsed = typeof body === 'string' ? JSON.parse(body) : body;
    } catch {
      // not JSON: keep the text
    }
    throw new ApiException(response.httpStatusCode, 'Unsuccessful HTTP Request', parsed, response.headers);
  }
}

export function createKubeClient(kubeconfig: string | KubeConfig): KubeClient {
  const kc = typeof kubeconfig === 'string' ? loadKubeconfig(kubeconfig) : kubeconfig;
  return new ClientNodeKube(kc);
}

class ClientNodeKube implements KubeClient {
  private readonly api: ObjectApi;

  constructor(private readonly kc: KubeConfig) {
    this.api = kc.makeApiClient(ObjectApi);
  }

  async serverVersion(): Promise<string> {
    const v = await this.kc.makeApiClient(VersionApi).getCode();
    return v.gitVersion;
  }

  private header(ref: ObjectRef): KubernetesObject {
    const h: KubernetesObject = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name } };
    if (ref.namespace) h.metadata!.namespace = ref.namespace;
    return h;
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    try {
      const obj = await this.api.read(this.header(ref) as { metadata: { name: string; namespace: string } });
      return plain(obj) as KubeObject;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      // A kind whose CRD is not installed is "not found" too: the object cannot exist.
      if (e instanceof Error && /Unrecognized API version and kind/.test(e.message)) return undefined;
      throw apiError('read', describeRef(ref), e);
    }
  }

  async list(apiVersion: string, kind: string, o: { namespace?: string; labelSelector?: string } = {}) {
    try {
      const res = await this.api.list(
        apiVersion,
        kind,
        o.namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        o.labelSelector,
      );
      return plain(res.items) as KubeObject[];
    } catch (e) {
      if (e instanceof Error && /Unrecognized API version and kind/.test(e.message)) return [];
      throw apiError('list', kind, e);
    }
  }

  private async serverSideApply(o: KubeObject, force: boolean, dryRun: boolean): Promise<KubeObject> {
    try {
      return await this.api.serverSideApply(o, { force, dryRun });
    } catch (e) {
      throw apiError(dryRun ? 'dry-run apply' : 'apply', describeRef(refOf(o)), e);
    }
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

  async diff(objects: readonly KubeObject[], o: { force?: boolean } = {}): Promise<ObjectDiff[]> {
    const out: ObjectDiff[] = [];
    for (const obj of applyOrder(objects)) {
      const ref = refOf(obj);
      const live = await this.get(ref);
      if (!live) {
        out.push({ ref, action: 'create' });
        continue;
      }
      const would = await this.serverSideApply(obj, o.force ?? false, true);
      const paths = changedPaths(normalizeForDiff(live), normalizeForDiff(would));
      out.push(paths.length === 0 ? { ref, action: 'unchanged' } : { ref, action: 'update', paths });
    }
    return out;
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    try {
      await this.api.delete(this.header(ref), undefined, undefined, undefined, undefined, 'Background');
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      if (e instanceof Error && /Unrecognized API version and kind/.test(e.message)) return false;
      throw apiError('delete', describeRef(ref), e);
    }
  }

  /**
   * Wait with a watch on the one object (cheap, prompt), re-established when
   * the server closes it; if a watch cannot be opened, poll instead.
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
    try {
      for (;;) {
        last = await this.get(ref);
        if (spec.ready(last)) return last!;
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new WaitTimeoutError(spec.what, Date.now() - start, describe(last));
        // Sessions stay under client-node's 30 s idle timeout; the loop re-reads between them.
        const seen = await this.watchUntil(ref, last, spec.ready, Math.min(remaining, 25_000)).catch(async () => {
          await sleep(Math.min(2000, remaining)); // watch unavailable: poll
          return undefined;
        });
        if (seen) last = seen;
        if (seen && spec.ready(seen)) return seen;
      }
    } finally {
      clearInterval(progress);
    }
  }

  /** One watch session: resolves with the first object that is ready, or undefined when it ends. */
  private async watchUntil(
    ref: ObjectRef,
    from: KubeObject | undefined,
    ready: (o: KubeObject | undefined) => boolean,
    ms: number,
  ): Promise<KubeObject | undefined> {
    const path = await this.api.collectionPath(ref);
    return new Promise<KubeObject | undefined>((resolve, reject) => {
      let latest: KubeObject | undefined;
      let settled = false;
      let abort: AbortController | undefined;
      const finish = (v: KubeObject | undefined, err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        abort?.abort();
        if (err && v === undefined && latest === undefined) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(v ?? latest);
      };
      const timer = setTimeout(() => finish(undefined), ms);
      const params: Record<string, string | number> = {
        fieldSelector: `metadata.name=${ref.name}`,
        timeoutSeconds: Math.max(1, Math.ceil(ms / 1000)),
        allowWatchBookmarks: 'true',
      };
      const rv = from?.metadata.resourceVersion;
      if (typeof rv === 'string') params.resourceVersion = rv;
      new Watch(this.kc)
        .watch(
          path,
          params,
          (phase, obj: KubeObject) => {
            if (phase === 'BOOKMARK' || phase === 'ERROR') return;
            latest = phase === 'DELETED' ? undefined : (obj as KubeObject);
            if (ready(latest)) finish(latest);
          },
          (err: unknown) => finish(undefined, err),
        )
        .then((c) => {
          abort = c;
          if (settled) c.abort();
        })
        .catch((e: unknown) => finish(undefined, e));
    });
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

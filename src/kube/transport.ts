/**
 * The one way requests reach a Kubernetes API server: client-node's own
 * HTTP stack (its undici fetch, kubeconfig authentication, TLS dispatcher
 * and middleware), with its typed (de)serialisation taken out. Bodies
 * travel as JSON text, so fields newer than client-node's models survive,
 * and every answer comes back as a status and a parsed body.
 */
import {
  ApiException,
  createConfiguration,
  HttpMethod,
  KubernetesObjectApi,
  ServerConfiguration,
  setHeaderMiddleware,
  type KubeConfig,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';
import type { ObjectRef } from './objects.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RawRequest {
  method: Method;
  /** Absolute API path: `/api/v1/namespaces/default/configmaps`. */
  path: string;
  query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Sent as JSON (a string is sent as it is). */
  body?: unknown;
  /** Defaults to `application/json` when there is a body. */
  contentType?: string;
  /** Give up after this long (default 30 s); watches pass their own signal instead. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON parsed when it is JSON; otherwise the text; undefined when empty. */
  body: unknown;
}

export interface StreamResponse {
  status: number;
  headers: Record<string, string>;
  /** The body, unread (a watch stream); null for an empty answer. */
  stream: ReadableStream<Uint8Array> | null;
}

const METHODS: Record<Method, HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
};

/** Markers passed as client-node's "response type" so processResponse hands the response back as it is. */
const AS_TEXT = 'capi-mgmt:text';
const AS_STREAM = 'capi-mgmt:stream';

const DEFAULT_TIMEOUT_MS = 30_000;

export function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Where a kind lives, from discovery. */
export interface ResourcePaths {
  /** `/apis/apps/v1/namespaces/x/deployments` (all namespaces when the ref has none). */
  collection: string;
  /** The object itself, when a name was given. */
  object?: string;
  namespaced: boolean;
}

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * The kubeconfig's authentication, with one connection pool per client.
 * client-node makes a new undici Agent for every request, so no connection
 * is ever reused: each request paid a TCP and TLS handshake (and, through
 * the seed's SSH tunnel, a new SSH channel). The TLS settings come from one
 * kubeconfig and do not change within a run, so the first Agent serves all.
 */
class PooledAuthentication implements SecurityAuthentication {
  private pool?: Dispatcher;

  constructor(private readonly kc: KubeConfig) {}

  getName(): string {
    return 'kubeconfig authentication with one connection pool';
  }

  async applySecurityAuthentication(ctx: RequestContext): Promise<void> {
    await this.kc.applySecurityAuthentication(ctx);
    const made = ctx.getDispatcher();
    if (!made) return; // plain HTTP without TLS settings: fetch's global pool already reuses connections
    if (!this.pool) {
      this.pool = made;
      return;
    }
    ctx.setDispatcher(this.pool);
    void made.close(); // never connected: closing is immediate
  }
}

export class Transport extends KubernetesObjectApi {
  /** What kc.makeApiClient would build, but with connections kept and reused across requests. */
  static for(kc: KubeConfig): Transport {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    return new Transport(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: new PooledAuthentication(kc) },
        middleware: [setHeaderMiddleware('User-Agent', 'capi-mgmt')],
      }),
    );
  }

  /** The server's base URL, for messages. */
  get server(): string {
    return this.configuration.baseServer.makeRequestContext('', HttpMethod.GET).getUrl();
  }

  /**
   * The paths of a kind (and object), or undefined when the server does not
   * serve that apiVersion and kind (its CRD is not installed). Discovery
   * answers are cached by client-node.
   */
  async paths(ref: Omit<ObjectRef, 'name'> & { name?: string }): Promise<ResourcePaths | undefined> {
    let resource;
    try {
      resource = await this.resource(ref.apiVersion, ref.kind);
    } catch (e) {
      // A group/version the server does not serve at all.
      if (e instanceof ApiException && e.code === 404) return undefined;
      throw e;
    }
    if (!resource) return undefined;
    const group = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const ns = resource.namespaced && ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
    const collection = `${group}${ns}/${resource.name}`;
    return {
      collection,
      namespaced: resource.namespaced,
      ...(ref.name === undefined ? {} : { object: `${collection}/${encodeURIComponent(ref.name)}` }),
    };
  }

  private context(r: RawRequest) {
    const ctx = this.configuration.baseServer.makeRequestContext(r.path, METHODS[r.method]);
    ctx.setHeaderParam('Accept', 'application/json');
    for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined) ctx.setQueryParam(k, String(v));
    if (r.body !== undefined) {
      ctx.setHeaderParam('Content-Type', r.contentType ?? 'application/json');
      ctx.setBody(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    }
    const signals = [r.signal, r.timeoutMs === 0 ? undefined : AbortSignal.timeout(r.timeoutMs ?? DEFAULT_TIMEOUT_MS)];
    ctx.setSignal(AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined)));
    return ctx;
  }

  /** Send one request; any HTTP status comes back (only transport failures throw). */
  async send(r: RawRequest): Promise<RawResponse> {
    return (await this.requestPromise(this.context(r), AS_TEXT)) as unknown as RawResponse;
  }

  /** Send one request and hand back the unread body (watches); `timeoutMs: 0` for no overall limit. */
  async open(r: RawRequest): Promise<StreamResponse> {
    return (await this.requestPromise(this.context(r), AS_STREAM)) as unknown as StreamResponse;
  }

  protected override async processResponse<T extends KubernetesObject>(
    response: ResponseContext,
    type?: string,
  ): Promise<T> {
    const status = response.httpStatusCode;
    if (type === AS_STREAM) {
      const out: StreamResponse = { status, headers: response.headers, stream: response.body.stream() };
      return out as unknown as T;
    }
    const text = await response.body.text();
    if (type === AS_TEXT) {
      const out: RawResponse = { status, headers: response.headers, body: parseBody(text) };
      return out as unknown as T;
    }
    // client-node's own calls (discovery): JSON on success, its exception otherwise.
    if (status >= 200 && status <= 299) return JSON.parse(text) as T;
    throw new ApiException(status, 'Unsuccessful HTTP Request', parseBody(text), response.headers);
  }
}

/**
 * The one way requests reach a Kubernetes API server: client-node's own
 * HTTP stack (its undici fetch, kubeconfig authentication, TLS dispatcher
 * and middleware), with its typed (de)serialisation taken out. Bodies
 * travel as JSON text, so fields newer than client-node's models survive,
 * and every answer comes back as a status and a parsed body.
 */
import {
  ApiException,
  HttpMethod,
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
  type ResponseContext,
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

export class Transport extends KubernetesObjectApi {
  static for(kc: KubeConfig): Transport {
    return kc.makeApiClient(Transport);
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

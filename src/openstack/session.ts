/**
 * A Keystone v3 session: logs in (password or application credential),
 * keeps the token until shortly before it expires, logs in again on a 401,
 * finds endpoints in the catalog, and retries the way each request allows.
 *
 * Retry rules:
 * - GET/PUT/DELETE (and explicitly idempotent POSTs) are repeated on 5xx,
 *   429, connection errors and timeouts, with exponential backoff + jitter.
 * - A POST that creates something may have taken effect even when we saw a
 *   failure (5xx, timeout, reset after sending). It is followed by its
 *   `lookup` (find by name and marker) before any retry, so a retry never
 *   makes a second copy. Without a lookup such a POST is not retried.
 */
import type { CloudConfig } from './cloud-config.js';
import { OpenStackApiError, OpenStackConnectionError, parseErrorBody } from './errors.js';
import { Transport, TransportError, type HttpMethod, type HttpResponse } from './transport.js';
import { sleep as defaultSleep } from '../util/wait.js';

export type ServiceType = 'compute' | 'network' | 'image' | 'block-storage' | 'load-balancer';

/** Catalog types each service may be registered under, in order of preference. */
const CATALOG_TYPES: Record<ServiceType, readonly string[]> = {
  compute: ['compute'],
  network: ['network'],
  image: ['image'],
  'block-storage': ['block-storage', 'volumev3'],
  'load-balancer': ['load-balancer'],
};

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface SessionOptions {
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** For tests: deterministic jitter and no real sleeping. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Debug lines (retries, re-authentication). Never receives tokens or bodies. */
  log?: (message: string) => void;
  dispatcher?: unknown;
  /** Reuse one transport (and its counters) across sessions. */
  transport?: Transport;
}

export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from the API; each caller maps it to a typed resource
  body: any;
  headers?: Headers;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** POST only: finds what an ambiguous failure may have created. */
  lookup?: () => Promise<Reply | undefined>;
  /** POST only: safe to repeat as is (e.g. a token request). */
  idempotent?: boolean;
  /** Statuses handed back instead of thrown (e.g. 404 for "does not exist"). */
  accept?: readonly number[];
}

interface CatalogEntry {
  type: string;
  endpoints: Array<{ interface: string; region?: string; region_id?: string; url: string }>;
}

interface Token {
  value: string;
  expiresAt: number;
  catalog: CatalogEntry[];
  projectId?: string;
}

const RETRYABLE_STATUS = (s: number): boolean => s === 429 || s >= 500;

export class Session {
  readonly transport: Transport;
  private token?: Token;
  private loggingIn?: Promise<Token>;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Number of logins done, for tests and the bench (token reuse). */
  logins = 0;

  constructor(
    readonly cloud: CloudConfig,
    private readonly opts: SessionOptions = {},
  ) {
    this.transport = opts.transport ?? new Transport({ timeoutMs: opts.timeoutMs, dispatcher: opts.dispatcher });
    this.retry = { maxAttempts: 6, baseDelayMs: 400, maxDelayMs: 8000, ...opts.retry };
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? ((ms) => defaultSleep(ms));
  }

  private debug(m: string): void {
    this.opts.log?.(m);
  }

  /** Forget the token (the next request logs in again). */
  invalidate(): void {
    this.token = undefined;
  }

  async projectId(): Promise<string | undefined> {
    return (await this.getToken()).projectId;
  }

  private async getToken(): Promise<Token> {
    // Reuse until a minute before expiry: a plan makes dozens of requests.
    if (this.token && this.token.expiresAt - Date.now() > 60_000) return this.token;
    this.loggingIn ??= this.login().finally(() => (this.loggingIn = undefined));
    this.token = await this.loggingIn;
    return this.token;
  }

  private authBody(): unknown {
    const a = this.cloud.auth;
    if (a.type === 'application-credential') {
      const cred: Record<string, unknown> = { secret: a.secret };
      if (a.id) cred.id = a.id;
      else {
        cred.name = a.name;
        cred.user = { name: a.username, domain: { name: a.userDomainName ?? 'Default' } };
      }
      return { auth: { identity: { methods: ['application_credential'], application_credential: cred } } };
    }
    const user: Record<string, unknown> = { password: a.password };
    if (a.userId) user.id = a.userId;
    else {
      user.name = a.username;
      user.domain = a.userDomainId ? { id: a.userDomainId } : { name: a.userDomainName ?? 'Default' };
    }
    let scope: unknown;
    if (a.projectId) scope = { project: { id: a.projectId } };
    else if (a.projectName) {
      scope = {
        project: {
          name: a.projectName,
          domain: a.projectDomainId ? { id: a.projectDomainId } : { name: a.projectDomainName ?? 'Default' },
        },
      };
    }
    return { auth: { identity: { methods: ['password'], password: { user } }, ...(scope ? { scope } : {}) } };
  }

  private async login(): Promise<Token> {
    this.logins++;
    const r = await this.exchange('identity', 'POST', `${this.cloud.authUrl}/auth/tokens`, {
      body: this.authBody(),
      idempotent: true,
      auth: false,
    });
    const value = r.headers?.get('x-subject-token');
    if (!value) throw new Error('identity: Keystone returned no token (X-Subject-Token missing)');
    const t = (r.body as { token?: Record<string, unknown> }).token ?? {};
    const expires = typeof t.expires_at === 'string' ? Date.parse(t.expires_at) : NaN;
    this.debug('identity: logged in');
    return {
      value,
      expiresAt: Number.isFinite(expires) ? expires : Date.now() + 3600_000,
      catalog: Array.isArray(t.catalog) ? (t.catalog as CatalogEntry[]) : [],
      projectId: (t.project as { id?: string } | undefined)?.id,
    };
  }

  /** Whether the catalog lists the service (for the current region and interface). */
  async hasService(service: ServiceType): Promise<boolean> {
    return this.findEndpoint(await this.getToken(), service) !== undefined;
  }

  private findEndpoint(token: Token, service: ServiceType): string | undefined {
    for (const type of CATALOG_TYPES[service]) {
      const entry = token.catalog.find((c) => c.type === type);
      const ep = entry?.endpoints.find(
        (e) =>
          e.interface === this.cloud.interface &&
          (!this.cloud.region || e.region_id === this.cloud.region || e.region === this.cloud.region),
      );
      if (ep) return ep.url.replace(/\/+$/, '');
    }
    return undefined;
  }

  /** The service's base URL, with the API version Neutron and Glance leave out of their catalog entries. */
  async endpoint(service: ServiceType): Promise<string> {
    const token = await this.getToken();
    const url = this.findEndpoint(token, service);
    if (!url) {
      const types = token.catalog.map((c) => c.type).sort();
      throw new Error(
        `the cloud's catalog has no ${service} endpoint (interface ${this.cloud.interface}${this.cloud.region ? `, region ${this.cloud.region}` : ''}); it lists: ${types.join(', ') || 'nothing'}`,
      );
    }
    if (service === 'network' && !/\/v2\.0$/.test(url)) return `${url}/v2.0`;
    if (service === 'image' && !/\/v2$/.test(url)) return `${url}/v2`;
    return url;
  }

  /** A request to a service, `path` relative to its endpoint (or an absolute URL). */
  async request(service: ServiceType, method: HttpMethod, path: string, o: RequestOptions = {}): Promise<Reply> {
    const base = /^https?:/.test(path) ? '' : await this.endpoint(service);
    return this.exchange(service, method, base + path, { ...o, auth: true });
  }

  private backoff(attempt: number, retryAfter?: string | null): number {
    const exp = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = exp / 2 + (exp / 2) * this.random();
    const ra = retryAfter ? Number(retryAfter) * 1000 : NaN;
    return Number.isFinite(ra) ? Math.min(this.retry.maxDelayMs, Math.max(ra, jittered)) : jittered;
  }

  private async exchange(
    service: string,
    method: HttpMethod,
    url: string,
    o: RequestOptions & { auth: boolean },
  ): Promise<Reply> {
    const u = new URL(url);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    const shortPath = u.pathname; // for messages: never the query, never headers
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const canRepeat = method !== 'POST' || o.idempotent === true;
    let reauthed = false;
    let lastFailure: unknown;

    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { Accept: 'application/json', ...o.headers };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (o.auth) headers['X-Auth-Token'] = (await this.getToken()).value;

      let ambiguous: boolean;
      let retryAfter: string | null = null;
      try {
        const r = await this.transport.send(service, method, u.toString(), headers, body);
        if (r.status === 401 && o.auth && !reauthed) {
          // Token revoked or expired early: log in once more and repeat.
          reauthed = true;
          this.invalidate();
          this.debug(`${service}: 401 on ${method} ${shortPath}; logging in again`);
          attempt--;
          continue;
        }
        if (r.status < 400 || o.accept?.includes(r.status)) return toReply(r);
        const { detail, type } = parseErrorBody(r.text);
        const err = new OpenStackApiError(service, method, shortPath, r.status, detail, type);
        if (!RETRYABLE_STATUS(r.status)) throw err;
        lastFailure = err;
        ambiguous = r.status !== 429;
        retryAfter = r.headers.get('retry-after');
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
        lastFailure = new OpenStackConnectionError(service, method, shortPath, e.cause, attempt);
        ambiguous = e.sent;
      }

      if (attempt >= this.retry.maxAttempts) throw lastFailure;
      if (!canRepeat && ambiguous && !o.lookup) throw lastFailure;
      const delay = this.backoff(attempt, retryAfter);
      this.debug(
        `${service}: ${method} ${shortPath} failed (${(lastFailure as Error).message.slice(0, 120)}); attempt ${attempt + 1}/${this.retry.maxAttempts} in ${Math.round(delay)} ms`,
      );
      await this.sleep(delay);
      if (!canRepeat && ambiguous && o.lookup) {
        // The create may have happened: look before creating again.
        const found = await o.lookup();
        if (found) {
          this.debug(`${service}: ${method} ${shortPath} had taken effect; using what it created`);
          return found;
        }
      }
    }
  }
}

function toReply(r: HttpResponse): Reply {
  let body: unknown = undefined;
  if (r.text) {
    try {
      body = JSON.parse(r.text);
    } catch {
      body = r.text;
    }
  }
  return { status: r.status, body, headers: r.headers };
}

/**
 * A loopback HTTP proxy that injects faults into a seeded share of requests.
 *
 * Every upstream is reached through one listener as `/_up/<host:port>/<path>`.
 * Keystone's token responses are rewritten so the catalog points at the
 * proxy too; the client then needs only the proxied auth URL.
 *
 * Faults: an error status, a connection reset or a hang (the client's timeout
 * fires), each either BEFORE forwarding (the service never saw the request)
 * or AFTER forwarding (the service acted, e.g. a POST created something, but
 * the client sees a failure). The "after" kinds are what make retries
 * dangerous; a correct client still converges without duplicates.
 *
 * The proxy also keeps the evidence a test needs: every request it saw and
 * forwarded (so a test can show the client went through it), every fault
 * with its kind, and a hook that runs while a forwarded request's answer is
 * held back (the killed-run test kills the CLI there: the service acted,
 * the client never learns it).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const FAULT_KINDS = [
  'error-before',
  'reset-before',
  'timeout-before',
  'error-after',
  'reset-after',
  'timeout-after',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultOptions {
  seed: number;
  /** Share of requests that get a fault, 0..1. */
  rate: number;
  /** Share for POSTs (creates), whose lost answers are the dangerous case; default `rate`. */
  postRate?: number;
  kinds?: readonly FaultKind[];
  /** Only these requests may get a fault (default: all but token requests). */
  eligible?: (method: string, path: string) => boolean;
  /** The next eligible POST gets this fault whatever the draw (once per `configure`/`start`). */
  forcePost?: FaultKind;
  /** Runs after the upstream answered and before the client gets the answer; the proxy waits for it. */
  onForwarded?: (r: ForwardedRequest) => void | Promise<void>;
}

export interface ForwardedRequest {
  method: string;
  path: string;
  status: number;
  /** How many requests this proxy has forwarded, this one included. */
  n: number;
}

/** mulberry32: small, seedable, good enough to spread faults. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultRecord {
  kind: FaultKind;
  method: string;
  path: string;
}

export class FaultProxy {
  private readonly sockets = new Set<Socket>();
  private random: () => number;
  readonly faults: FaultRecord[] = [];
  /** Requests received, and those forwarded upstream. */
  requests = 0;
  forwarded = 0;
  private forcePending: FaultKind | undefined;
  private constructor(
    private readonly server: http.Server,
    private opts: FaultOptions,
  ) {
    this.random = seededRandom(opts.seed);
    this.forcePending = opts.forcePost;
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(opts: FaultOptions): Promise<FaultProxy> {
    const server = http.createServer();
    const proxy = new FaultProxy(server, opts);
    server.on('request', (req, res) => void proxy.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The proxied form of an upstream URL. */
  url(upstream: string): string {
    const u = new URL(upstream);
    return `http://127.0.0.1:${this.port}/_up/${u.host}${u.pathname.replace(/\/$/, '')}`;
  }

  /** Change the fault settings (e.g. turn faults off to check the result). */
  configure(opts: Partial<FaultOptions>): void {
    this.opts = { ...this.opts, ...opts };
    if (opts.seed !== undefined) this.random = seededRandom(opts.seed);
    if ('forcePost' in opts) this.forcePending = opts.forcePost;
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.faults) out[f.kind] = (out[f.kind] ?? 0) + 1;
    return out;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pickFault(method: string, path: string): FaultKind | undefined {
    const eligible = this.opts.eligible ?? ((_m: string, p: string) => !p.endsWith('/auth/tokens'));
    // Draw for every request so a seed gives the same sequence whatever is eligible.
    const roll = this.random();
    const which = this.random();
    const rate = method === 'POST' ? (this.opts.postRate ?? this.opts.rate) : this.opts.rate;
    if (!eligible(method, path)) return undefined;
    if (method === 'POST' && this.forcePending) {
      const forced = this.forcePending;
      this.forcePending = undefined;
      return forced;
    }
    if (roll >= rate) return undefined;
    const kinds = this.opts.kinds ?? FAULT_KINDS;
    return kinds[Math.floor(which * kinds.length)];
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.requests++;
    const m = /^\/_up\/([^/]+)(\/.*)?$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404).end('not a proxied path');
      return;
    }
    const [, hostPort, rest = '/'] = m;
    const path = rest.split('?')[0]!;
    const method = req.method ?? 'GET';
    const fault = this.pickFault(method, path);
    if (fault) this.faults.push({ kind: fault, method, path });
    const body = await readAll(req);

    if (fault === 'error-before') return void res.writeHead(503, { 'Content-Type': 'text/plain' }).end('injected 503');
    if (fault === 'reset-before') return void req.socket.destroy();
    if (fault === 'timeout-before') return; // hang: the client's timeout fires

    let upstream: { status: number; headers: http.IncomingHttpHeaders; body: Buffer };
    try {
      upstream = await forward(hostPort!, method, rest, req.headers, body);
    } catch (e) {
      res.writeHead(502).end(`proxy: upstream failed: ${(e as Error).message}`);
      return;
    }
    this.forwarded++;
    await this.opts.onForwarded?.({ method, path, status: upstream.status, n: this.forwarded });

    if (fault === 'error-after') return void res.writeHead(500, { 'Content-Type': 'text/plain' }).end('injected 500');
    if (fault === 'reset-after') return void req.socket.destroy();
    if (fault === 'timeout-after') return;

    let out = upstream.body;
    if (path.endsWith('/auth/tokens') && method === 'POST') {
      // Point the catalog at the proxy: every http://host:port becomes /_up/host:port.
      out = Buffer.from(
        out
          .toString('utf8')
          .replace(
            /http:\/\/(127\.0\.0\.1|localhost):(\d+)/g,
            (_s, h: string, p: string) => `http://127.0.0.1:${this.port}/_up/${h}:${p}`,
          ),
      );
    }
    const headers = { ...upstream.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    delete headers.connection;
    res.writeHead(upstream.status, { ...headers, 'content-length': String(out.length) });
    res.end(out);
  }
}

function readAll(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function forward(
  hostPort: string,
  method: string,
  path: string,
  headers: http.IncomingHttpHeaders,
  body: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const [host, port] = hostPort.split(':');
  const h = { ...headers, host: hostPort };
  delete h.connection;
  return new Promise((resolve, reject) => {
    const r = http.request({ host, port: Number(port), method, path, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

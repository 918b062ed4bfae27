/**
 * One HTTP exchange with a timeout, counted per service. Retrying lives one
 * level up (session.ts) because only there do we know whether a request is
 * safe to repeat.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD';

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** A request that got no HTTP answer. `sent` is false only when we know the server never saw it. */
export class TransportError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly sent: boolean,
    readonly timedOut: boolean,
  ) {
    super(timedOut ? 'request timed out' : `connection failed: ${codeOf(cause) ?? (cause as Error).message}`);
    this.name = 'TransportError';
  }
}

function codeOf(e: unknown): string | undefined {
  const inner = (e as { cause?: { code?: string } } | undefined)?.cause;
  return inner?.code ?? (e as { code?: string } | undefined)?.code;
}

/** Errors that happen before any byte reaches the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export interface TransportOptions {
  /** Per request, including reading the body. */
  timeoutMs?: number;
  /** An undici Dispatcher (custom CA, verify off); passed through to fetch. */
  dispatcher?: unknown;
}

export class Transport {
  private readonly counts = new Map<string, number>();
  readonly timeoutMs: number;

  constructor(private readonly opts: TransportOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Requests sent per service type since the last reset (every attempt counts). */
  stats(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  resetStats(): void {
    this.counts.clear();
  }

  async send(
    service: string,
    method: HttpMethod,
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<HttpResponse> {
    this.counts.set(service, (this.counts.get(service) ?? 0) + 1);
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const init: RequestInit = { method, headers, body, signal, redirect: 'manual' };
      // Node's fetch takes an undici dispatcher; the DOM typing does not know the field.
      if (this.opts.dispatcher) (init as { dispatcher?: unknown }).dispatcher = this.opts.dispatcher;
      const res = await fetch(url, init);
      const text = await res.text();
      return { status: res.status, headers: res.headers, text };
    } catch (e) {
      const timedOut = signal.aborted || (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError';
      const code = codeOf(e);
      throw new TransportError(e, timedOut || !code || !NOT_SENT.has(code), timedOut);
    }
  }
}

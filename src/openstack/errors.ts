/**
 * OpenStack failures as messages a person can act on. Each service wraps
 * its error differently (Nova `{"badRequest": {...}}`, Neutron
 * `{"NeutronError": {...}}`, Keystone `{"error": {...}}`, Glance HTML); we
 * dig out the message and recognise quota errors.
 */
import { closest, distance } from 'fastest-levenshtein';

export class OpenStackApiError extends Error {
  constructor(
    readonly service: string,
    readonly method: string,
    /** Path without query (queries can hold names but never secrets; still, keep it short). */
    readonly path: string,
    readonly status: number,
    readonly detail: string,
    readonly errorType?: string,
  ) {
    super(formatApiError(service, method, path, status, detail, errorType));
    this.name = 'OpenStackApiError';
  }

  get isQuota(): boolean {
    return isQuotaError(this.status, this.detail, this.errorType);
  }
}

/** A transport failure (connection refused or reset, timeout) after every retry. */
export class OpenStackConnectionError extends Error {
  constructor(
    readonly service: string,
    readonly method: string,
    readonly path: string,
    override readonly cause: unknown,
    readonly attempts: number,
  ) {
    super(`${service}: ${method} ${path} failed after ${attempts} attempt(s): ${describeCause(cause)}`);
    this.name = 'OpenStackConnectionError';
  }
}

/** A named thing the configuration refers to does not exist. */
export class NotFoundError extends Error {
  constructor(
    what: string,
    ref: string,
    candidates: readonly string[],
    readonly hint?: string,
  ) {
    super(notFoundMessage(what, ref, candidates) + (hint ? ` ${hint}` : ''));
    this.name = 'NotFoundError';
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause;
    const code = (inner as { code?: string } | undefined)?.code ?? (cause as { code?: string }).code;
    if (cause.name === 'TimeoutError' || cause.name === 'AbortError') return 'timed out';
    const detail = (inner as Error | undefined)?.message ?? cause.message;
    return code ? `connection failed (${code}${detail && detail !== code ? `: ${detail}` : ''})` : detail;
  }
  return String(cause);
}

function isQuotaError(status: number, detail: string, errorType?: string): boolean {
  if (status === 413) return true;
  if (errorType && /OverQuota|QuotaExceeded|OverLimit|LimitExceeded/i.test(errorType)) return true;
  return (
    (status === 403 || status === 409 || status === 400) && /quota exceeded|exceeded.*quota|over ?quota/i.test(detail)
  );
}

function formatApiError(
  service: string,
  method: string,
  p: string,
  status: number,
  detail: string,
  errorType?: string,
): string {
  if (isQuotaError(status, detail, errorType)) {
    return `quota exceeded in ${service} (${method} ${p}): ${detail}. Ask the cloud operator for more quota or free some resources.`;
  }
  if (status === 401)
    return `${service}: not authorised (${method} ${p}): ${detail}. Check the credentials in clouds.yaml.`;
  if (status === 403) return `${service}: forbidden (${method} ${p}): ${detail}`;
  return `${service}: ${method} ${p} returned ${status}${errorType ? ` ${errorType}` : ''}: ${detail}`;
}

/** The human part of an OpenStack error body. */
export function parseErrorBody(text: string): { detail: string; type?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Glance and proxies answer HTML or plain text: keep the readable part.
    const plain = text
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    return { detail: plain.slice(0, 300) || '(empty response)' };
  }
  if (doc !== null && typeof doc === 'object') {
    const o = doc as Record<string, unknown>;
    const ne = o.NeutronError as Record<string, unknown> | undefined;
    if (ne && typeof ne === 'object')
      return { detail: String(ne.message ?? ''), type: String(ne.type ?? '') || undefined };
    for (const [k, v] of Object.entries(o)) {
      if (v !== null && typeof v === 'object' && 'message' in v) {
        return { detail: String((v as { message: unknown }).message), type: k === 'error' ? undefined : k };
      }
    }
    if (typeof o.message === 'string') return { detail: o.message };
    if (typeof o.detail === 'string') return { detail: o.detail };
  }
  return { detail: text.slice(0, 300) };
}

/** Up to `n` candidates closest to `ref`, the best first. */
export function closestNames(ref: string, candidates: readonly string[], n = 3): string[] {
  const uniq = [...new Set(candidates)];
  if (uniq.length === 0) return [];
  const best = closest(ref, uniq);
  const rest = uniq
    .filter((c) => c !== best)
    .map((c) => ({ c, d: distance(ref.toLowerCase(), c.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .map((x) => x.c);
  return [best, ...rest].slice(0, n);
}

function notFoundMessage(what: string, ref: string, candidates: readonly string[]): string {
  const near = closestNames(ref, candidates);
  return near.length
    ? `${what} "${ref}" not found; closest: ${near.map((n) => `"${n}"`).join(', ')}`
    : `${what} "${ref}" not found, and the cloud offers none`;
}

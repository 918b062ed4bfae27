/**
 * Typed errors for the Kubernetes boundary. Every message names the verb and
 * the object (or path) and carries the API server's own reason and message;
 * none ever carries a request body, so a Secret or token sent to the API
 * cannot leak through an error.
 */
import { STATUS_CODES } from 'node:http';

/** What a request was about, for messages: `create` + `Lease kube-system/x`. */
export interface KubeOperation {
  verb: string;
  target: string;
}

/** The longest API message kept; Status messages are short, proxies' HTML pages are not. */
const MAX_MESSAGE = 400;

/** The API server answered with a status outside 2xx. */
export class KubeApiError extends Error {
  /** HTTP status code (also the Status object's `code`). */
  readonly status: number;
  /** The Status object's machine-readable reason (`Conflict`, `AlreadyExists`, `NotFound`, `Forbidden`, ...). */
  readonly reason: string;
  /** The Status object's human-readable message, as the API server wrote it. */
  readonly apiMessage: string;
  readonly verb: string;
  readonly target: string;

  constructor(op: KubeOperation, status: number, reason: string, apiMessage: string) {
    super(`${op.verb} ${op.target}: HTTP ${status} ${reason}${apiMessage ? `: ${apiMessage}` : ''}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.apiMessage = apiMessage;
    this.verb = op.verb;
    this.target = op.target;
  }
}

/**
 * 409: the object already exists (`AlreadyExists`), or a precondition
 * (resourceVersion, uid) or a field owner disagreed (`Conflict`). For a
 * compare-and-swap this means another writer won.
 */
export class KubeConflictError extends KubeApiError {
  constructor(op: KubeOperation, reason: string, apiMessage: string) {
    super(op, 409, reason, apiMessage);
    this.name = 'KubeConflictError';
  }
}

/** 404: the object, or its kind, does not exist. */
export class KubeNotFoundError extends KubeApiError {
  constructor(op: KubeOperation, reason: string, apiMessage: string) {
    super(op, 404, reason, apiMessage);
    this.name = 'KubeNotFoundError';
  }
}

/** 410: a watch or list asked for a resourceVersion the server no longer keeps; list again. */
export class KubeGoneError extends KubeApiError {
  constructor(op: KubeOperation, reason: string, apiMessage: string) {
    super(op, 410, reason, apiMessage);
    this.name = 'KubeGoneError';
  }
}

/** The request never got an answer: connection refused, TLS failure, timeout. */
export class KubeConnectionError extends Error {
  constructor(
    op: KubeOperation,
    readonly server: string,
    cause: unknown,
  ) {
    super(`${op.verb} ${op.target}: no answer from ${server}: ${causeText(cause)}`, { cause });
    this.name = 'KubeConnectionError';
  }
}

function causeText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // undici hides the useful part (ECONNREFUSED, certificate errors) in `cause`.
  const inner = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${e.message}${inner}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** One line, bounded: what goes into a message from a response we did not choose. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE)}...` : flat;
}

/**
 * The typed error for a non-2xx answer. `body` is the parsed response (a
 * `Status` object from the API server, or text from something in between).
 */
export function kubeApiError(op: KubeOperation, status: number, body: unknown): KubeApiError {
  let reason = STATUS_CODES[status] ?? 'Unknown';
  let message = '';
  if (isRecord(body) && body.kind === 'Status') {
    if (typeof body.reason === 'string' && body.reason) reason = body.reason;
    if (typeof body.message === 'string') message = oneLine(body.message);
  } else if (typeof body === 'string') {
    message = oneLine(body);
  }
  if (status === 409) return new KubeConflictError(op, reason, message);
  if (status === 404) return new KubeNotFoundError(op, reason, message);
  if (status === 410) return new KubeGoneError(op, reason, message);
  return new KubeApiError(op, status, reason, message);
}

export const isConflict = (e: unknown): e is KubeConflictError => e instanceof KubeConflictError;
export const isNotFound = (e: unknown): e is KubeNotFoundError => e instanceof KubeNotFoundError;

/**
 * Plain HTTP(S) downloads with a few retries and a sha256 computed on the
 * way. A mirror URL may carry credentials (`https://user:pass@host/...`):
 * they are sent as basic auth (fetch refuses them in the URL, and its error
 * would quote the URL whole) and never appear in a message.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { sleep } from '../util/wait.js';

export interface DownloadOptions {
  retries?: number;
  timeoutMs?: number;
  log?: (m: string) => void;
}

class HttpStatusError extends Error {
  constructor(
    url: string,
    readonly status: number,
  ) {
    super(`GET ${displayUrl(url)}: HTTP ${status}`);
  }
}

/** The URL as it may be shown: any `user:password@` replaced. */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
  }
}

/** The request for `url`: credentials moved from the URL into an Authorization header. */
function requestFor(url: string): { url: string; headers: Record<string, string> } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url, headers: {} };
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const basic = Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
  return { url: displayUrl(url), headers: { authorization: `Basic ${basic}` } };
}

/** Retry transient failures (network, 5xx, 429); a 404 is final. */
async function withRetries<T>(url: string, o: DownloadOptions, fn: () => Promise<T>): Promise<T> {
  const retries = o.retries ?? 2;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const status = e instanceof HttpStatusError ? e.status : 0;
      const transient = status === 0 || status >= 500 || status === 429;
      if (!transient || attempt >= retries) throw e;
      o.log?.(`download of ${displayUrl(url)} failed (${(e as Error).message}); retrying`);
      await sleep(1000 * 2 ** attempt);
    }
  }
}

async function get(url: string, o: DownloadOptions): Promise<Response> {
  const req = requestFor(url);
  let res: Response;
  try {
    res = await fetch(req.url, {
      headers: req.headers,
      redirect: 'follow',
      signal: AbortSignal.timeout(o.timeoutMs ?? 300_000),
    });
  } catch (e) {
    // undici says only "fetch failed"; the reason is in the cause.
    const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    throw new Error(`GET ${req.url}: ${why}`, { cause: e });
  }
  if (!res.ok || !res.body) throw new HttpStatusError(url, res.status);
  return res;
}

export async function downloadText(url: string, o: DownloadOptions = {}): Promise<string> {
  return withRetries(url, o, async () => (await get(url, o)).text());
}

/** Stream `url` into `dest`; returns the sha256 of what was written. */
export async function downloadFile(url: string, dest: string, o: DownloadOptions = {}): Promise<string> {
  return withRetries(url, o, async () => {
    const res = await get(url, o);
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, createWriteStream(dest));
    return hash.digest('hex');
  });
}

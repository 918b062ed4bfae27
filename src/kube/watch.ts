/**
 * A watch as an async iterable of events, read from the API server's
 * newline-delimited JSON stream. The stream ends when the server closes it
 * (`timeoutSeconds`), when the caller's signal aborts, or when the consumer
 * stops iterating; an ERROR event (410 Gone: list again) is thrown as the
 * typed error.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { kubeApiError, type KubeOperation } from './errors.js';
import type { KubeObject } from './objects.js';
import { parseBody, type StreamResponse } from './transport.js';

export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject }
  /** The server is at this resourceVersion (no change to report); resume from it. */
  | { type: 'BOOKMARK'; resourceVersion: string };

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

async function readAll(stream: StreamResponse['stream']): Promise<string> {
  return stream ? new Response(stream as ReadableStream<Uint8Array>).text() : '';
}

/**
 * Turn an opened watch response into events. Whenever iteration ends, the
 * response stream is destroyed, which closes the connection.
 */
export async function* watchEvents(
  op: KubeOperation,
  res: StreamResponse,
): AsyncGenerator<WatchEvent, void, undefined> {
  if (res.status !== 200) throw kubeApiError(op, res.status, parseBody(await readAll(res.stream)));
  if (!res.stream) return;
  const input = Readable.fromWeb(res.stream as unknown as NodeReadableStream<Uint8Array>);
  // While reading, readline hands stream errors to the loop; once iteration is over, the
  // destroy below may still make the stream report one that nobody waits for.
  input.on('error', () => {});
  try {
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const event = parseBody(line);
      if (!isRecord(event) || typeof event.type !== 'string' || !isRecord(event.object)) continue;
      const obj = event.object;
      if (event.type === 'ERROR') {
        const code = typeof obj.code === 'number' ? obj.code : 500;
        throw kubeApiError(op, code, obj);
      }
      if (event.type === 'BOOKMARK') {
        const meta = isRecord(obj.metadata) ? obj.metadata : {};
        yield { type: 'BOOKMARK', resourceVersion: String(meta.resourceVersion ?? '') };
        continue;
      }
      if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED') {
        yield { type: event.type, object: obj as KubeObject };
      }
    }
  } finally {
    input.destroy();
  }
}

/**
 * The Azure Blob Storage endpoints that the toolkit's signed URLs point at,
 * as the Azure SDK (@azure/storage-blob) and plain GETs use them: single-shot
 * PUT, staged blocks plus a block list, and download. URLs are signed like a
 * SAS: permissions (`sp`), expiry (`se`) and an HMAC (`sig`) over both and the
 * path, so a URL only works for the blob, the operation and the time it was
 * issued for.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

export interface Blob {
  data?: Buffer;
  /** x-ms-blob-content-type given at upload. */
  contentType?: string;
  blocks: Map<string, Buffer>;
}

export type Permission = 'r' | 'cw';

export class BlobStore {
  readonly blobs = new Map<string, Blob>();
  /** Applied to every body received, to play corruption in transit. */
  tamper?: (data: Buffer) => Buffer;
  private readonly key = randomBytes(32);

  constructor(
    private readonly base: () => string,
    /** Told about every refused request: a test fails on any. */
    private readonly refuse: (why: string) => void,
  ) {}

  private sig(path: string, sp: string, se: string, rscd: string): string {
    return createHmac('sha256', this.key).update(`${sp}\n${se}\n${rscd}\n${path}`).digest('base64');
  }

  /**
   * `/blob/<container>/<name>`: with an IP host the SDK reads account,
   * container and blob from the path. `rscd` sets the download's
   * Content-Disposition, as a SAS can.
   */
  signedUrl(container: string, name: string, sp: Permission, o: { ttlSeconds?: number; rscd?: string } = {}): string {
    const path = `/blob/${encodeURIComponent(container)}/${encodeURIComponent(name)}`;
    const se = new Date(Date.now() + (o.ttlSeconds ?? 3600) * 1000).toISOString();
    const rscd = o.rscd ?? '';
    const q = new URLSearchParams({ sv: '2024-11-04', sr: 'b', sp, se, ...(rscd ? { rscd } : {}) });
    q.set('sig', this.sig(path, sp, se, rscd));
    return `${this.base()}${path}?${q}`;
  }

  get(container: string, name: string): Buffer | undefined {
    return this.blobs.get(`/blob/${encodeURIComponent(container)}/${encodeURIComponent(name)}`)?.data;
  }

  /** Answers requests under /blob/; false for any other path. */
  handle(req: http.IncomingMessage, url: URL, raw: Buffer, res: http.ServerResponse): boolean {
    if (!url.pathname.startsWith('/blob/')) return false;
    const azure = (status: number, headers: Record<string, string> = {}, body?: string): void => {
      res.writeHead(status, {
        'x-ms-request-id': randomBytes(8).toString('hex'),
        'x-ms-version': '2024-11-04',
        ...(status < 300 ? { etag: '"0x1"', 'last-modified': new Date().toUTCString() } : {}),
        ...headers,
      });
      res.end(body);
    };
    const deny = (code: string, why: string): void => {
      this.refuse(`blob ${req.method} ${url.pathname}: ${why}`);
      azure(403, { 'content-type': 'application/xml', 'x-ms-error-code': code }, `<Error><Code>${code}</Code></Error>`);
    };

    const sp = url.searchParams.get('sp') ?? '';
    const se = url.searchParams.get('se') ?? '';
    const given = Buffer.from(url.searchParams.get('sig') ?? '', 'base64');
    const rscd = url.searchParams.get('rscd') ?? '';
    const want = Buffer.from(this.sig(url.pathname, sp, se, rscd), 'base64');
    if (given.length !== want.length || !timingSafeEqual(given, want)) {
      deny('AuthenticationFailed', 'signature does not match');
      return true;
    }
    if (!(Date.parse(se) > Date.now())) {
      deny('AuthenticationFailed', 'signed URL expired');
      return true;
    }
    const reading = req.method === 'GET' || req.method === 'HEAD';
    if (reading ? !sp.includes('r') : !sp.includes('w')) {
      deny('AuthorizationPermissionMismatch', `permission ${sp} does not allow ${req.method}`);
      return true;
    }

    const blob = this.blobs.get(url.pathname) ?? { blocks: new Map<string, Buffer>() };
    const body = this.tamper ? this.tamper(raw) : raw;
    if (req.method === 'PUT') {
      this.blobs.set(url.pathname, blob);
      const type = req.headers['x-ms-blob-content-type'];
      if (typeof type === 'string') blob.contentType = type;
      const comp = url.searchParams.get('comp');
      if (comp === 'block') {
        blob.blocks.set(url.searchParams.get('blockid') ?? '', body);
      } else if (comp === 'blocklist') {
        const ids = [...raw.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map(
          (x) => x[1]!,
        );
        const missing = ids.filter((id) => !blob.blocks.has(id));
        if (missing.length) {
          this.refuse(`blob ${url.pathname}: block list names blocks never staged`);
          azure(400, { 'x-ms-error-code': 'InvalidBlockList' });
          return true;
        }
        blob.data = Buffer.concat(ids.map((id) => blob.blocks.get(id)!));
        blob.blocks.clear();
      } else if (req.headers['x-ms-blob-type'] === 'BlockBlob') {
        blob.data = body;
      } else {
        deny('InvalidHeaderValue', 'PUT without x-ms-blob-type: BlockBlob');
        return true;
      }
      azure(201, { 'x-ms-request-server-encrypted': 'true' });
      return true;
    }
    if (reading && blob.data) {
      res.writeHead(200, {
        'content-type': blob.contentType ?? 'application/octet-stream',
        'content-length': String(blob.data.length),
        'x-ms-blob-type': 'BlockBlob',
        ...(rscd ? { 'content-disposition': rscd } : {}),
      });
      res.end(req.method === 'GET' ? blob.data : undefined);
      return true;
    }
    this.refuse(`blob ${req.method} ${url.pathname}: no such blob`);
    azure(404, { 'x-ms-error-code': 'BlobNotFound' });
    return true;
  }
}

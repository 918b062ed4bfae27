/**
 * The Actions cache service v2 as @actions/cache 6 speaks to it (selected by
 * ACTIONS_CACHE_SERVICE_V2 and found at ACTIONS_RESULTS_URL): Twirp JSON on
 * /twirp/github.actions.results.api.v1.CacheService/, archives in blob storage
 * behind signed URLs. Entries are (scope, key, version); the runtime token's
 * `ac` claim says which scopes a run may read (its own ref, then the base
 * branch) and which one it writes. Lookup: the primary key exactly, then
 * each restore key exactly or as the prefix of the newest entry. An entry is
 * visible once finalized, and finalizing checks the size the client reports
 * against the bytes stored.
 */
import { CACHE_READ, CACHE_WRITE, type RuntimeClaims } from './runtime-token.js';
import type { BlobStore } from './blob-store.js';

export const CACHE_SERVICE = '/twirp/github.actions.results.api.v1.CacheService/';

export interface CacheEntryRecord {
  id: number;
  scope: string;
  key: string;
  version: string;
  finalized: boolean;
  sizeBytes?: number;
  createdAt: number;
}

export interface TwirpReply {
  status: number;
  body: unknown;
}

const twirpError = (status: number, code: string, msg: string): TwirpReply => ({ status, body: { code, msg } });

export class CacheService {
  readonly entries: CacheEntryRecord[] = [];
  private nextId = 7001;

  constructor(
    private readonly blobs: BlobStore,
    private readonly refuse: (why: string) => void,
  ) {}

  private container(e: CacheEntryRecord): string {
    return `cache-${e.id}`;
  }

  /** The archive bytes of a finalized entry (what a restore would get). */
  archive(e: CacheEntryRecord): Buffer | undefined {
    return this.blobs.get(this.container(e), 'cache.tzst');
  }

  handle(method: string, b: Record<string, unknown>, claims: RuntimeClaims): TwirpReply {
    const key = typeof b.key === 'string' ? b.key : '';
    const version = typeof b.version === 'string' ? b.version : '';
    if (!key || !version) {
      this.refuse(`CacheService/${method} without key or version`);
      return twirpError(400, 'invalid_argument', 'key and version are required');
    }
    const readable = claims.cacheScopes.filter((s) => s.permission & CACHE_READ).map((s) => s.scope);
    const writable = claims.cacheScopes.find((s) => s.permission & CACHE_WRITE)?.scope;
    const inScope = (scope: string | undefined) =>
      this.entries.filter((e) => e.scope === scope && e.key === key && e.version === version);

    switch (method) {
      case 'GetCacheEntryDownloadURL': {
        if (readable.length === 0) {
          return twirpError(403, 'permission_denied', 'cache read denied: the token has no readable cache scope');
        }
        const restoreKeys = Array.isArray(b.restore_keys) ? b.restore_keys.map(String) : [];
        const hit = this.lookup(readable, key, restoreKeys, version);
        if (!hit) return { status: 200, body: { ok: false } };
        const url = this.blobs.signedUrl(this.container(hit), 'cache.tzst', 'r');
        return { status: 200, body: { ok: true, signed_download_url: url, matched_key: hit.key } };
      }
      case 'CreateCacheEntry': {
        if (!writable) {
          return { status: 200, body: { ok: false, message: 'cache write denied: the token is read-only' } };
        }
        if (inScope(writable).length > 0) {
          return twirpError(409, 'already_exists', 'cache entry with the same key, version, and scope already exists');
        }
        const e: CacheEntryRecord = {
          id: this.nextId++,
          scope: writable,
          key,
          version,
          finalized: false,
          createdAt: Date.now(),
        };
        this.entries.push(e);
        const url = this.blobs.signedUrl(this.container(e), 'cache.tzst', 'cw');
        return { status: 200, body: { ok: true, signed_upload_url: url } };
      }
      case 'FinalizeCacheEntryUpload': {
        const e = inScope(writable).find((x) => !x.finalized);
        if (!e) {
          this.refuse(`CacheService/FinalizeCacheEntryUpload of ${key} with no reservation`);
          return twirpError(404, 'not_found', 'no cache entry reserved for this key and version');
        }
        const data = this.archive(e);
        const size = Number(b.size_bytes);
        if (!data || data.length !== size) {
          this.refuse(
            `CacheService/FinalizeCacheEntryUpload of ${key}: reported ${size} B, stored ${data?.length ?? 0} B`,
          );
          return twirpError(
            400,
            'invalid_argument',
            `size mismatch: reported ${size} bytes, uploaded ${data?.length ?? 0}`,
          );
        }
        e.finalized = true;
        e.sizeBytes = size;
        return { status: 200, body: { ok: true, entry_id: String(e.id) } };
      }
      default:
        this.refuse(`CacheService/${method}: no such method`);
        return twirpError(404, 'bad_route', `no method ${method}`);
    }
  }

  private lookup(scopes: string[], key: string, restoreKeys: string[], version: string): CacheEntryRecord | undefined {
    const done = this.entries.filter((e) => e.finalized && e.version === version);
    const newest = (list: CacheEntryRecord[]) => list.sort((x, y) => y.createdAt - x.createdAt || y.id - x.id)[0];
    for (const scope of scopes) {
      const inScope = done.filter((e) => e.scope === scope);
      const exact = inScope.find((e) => e.key === key);
      if (exact) return exact;
      for (const rk of restoreKeys) {
        const hit = inScope.find((e) => e.key === rk) ?? newest(inScope.filter((e) => e.key.startsWith(rk)));
        if (hit) return hit;
      }
    }
    return undefined;
  }
}

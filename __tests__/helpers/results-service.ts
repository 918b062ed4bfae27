/**
 * A loopback stand-in for the Actions results service at ACTIONS_RESULTS_URL,
 * as @actions/artifact and @actions/cache speak to it: Twirp JSON for the
 * ArtifactService (CreateArtifact, FinalizeArtifact, ListArtifacts,
 * GetSignedArtifactURL) and the CacheService (cache-service.ts), both behind
 * the runtime token (runtime-token.ts: signature, lifetime and scope
 * checked), and blob storage behind signed URLs (blob-store.ts).
 *
 * Like the real service it checks what the client claims: FinalizeArtifact's
 * size and `sha256:` hash against the bytes stored, and a job writes only
 * to its own run. Every refused or unroutable request is recorded in
 * `unexpected`, which tests assert empty after each test.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobStore } from './blob-store.js';
import { CACHE_SERVICE, CacheService, type TwirpReply } from './cache-service.js';
import {
  runtimeToken,
  TokenError,
  verifyRuntimeToken,
  type RuntimeClaims,
  type TokenOptions,
} from './runtime-token.js';

export { runtimeToken } from './runtime-token.js';

interface StoredArtifact {
  id: number;
  name: string;
  runBackendId: string;
  jobBackendId: string;
  expiresAt?: string;
  mimeType?: string;
  /** The bytes uploaded, once there are any. */
  data?: Buffer;
  finalized: boolean;
  size?: string;
  /** `sha256:<hex>`, as FinalizeArtifact reported and the service checked. */
  hash?: string;
}

export interface ResultsStandIn {
  url: string;
  artifacts: StoredArtifact[];
  cache: CacheService;
  blobs: BlobStore;
  /** Twirp methods and blob operations, in order. */
  calls: string[];
  /** Refused or unroutable requests; a test fails when any are left. */
  unexpected: string[];
  /** A token this service accepts, for a job of a run. */
  runtimeToken(run: string, job: string, o?: TokenOptions): string;
  /** Hand over (and forget) what was refused: for tests that provoke a refusal on purpose. */
  takeUnexpected(): string[];
  close(): Promise<void>;
}

const ARTIFACT_SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/';
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const twirpError = (status: number, code: string, msg: string): TwirpReply => ({ status, body: { code, msg } });

class ArtifactService {
  readonly artifacts: StoredArtifact[] = [];
  private nextId = 41;

  constructor(
    private readonly blobs: BlobStore,
    private readonly refuse: (why: string) => void,
  ) {}

  private container(a: StoredArtifact): string {
    return `artifact-${a.id}`;
  }

  handle(method: string, b: Record<string, unknown>, claims: RuntimeClaims): TwirpReply {
    if (!['CreateArtifact', 'FinalizeArtifact', 'ListArtifacts', 'GetSignedArtifactURL'].includes(method)) {
      this.refuse(`ArtifactService/${method}: no such method`);
      return twirpError(404, 'bad_route', `no method ${method}`);
    }
    // The token's Actions.Results scope names the run and job: a job writes
    // only as itself, and reads only its own run's artifacts.
    if (b.workflow_run_backend_id !== claims.run) {
      this.refuse(
        `ArtifactService/${method} for run ${String(b.workflow_run_backend_id)} with a token for ${claims.run}`,
      );
      return twirpError(403, 'permission_denied', 'the token does not cover this workflow run');
    }
    const writes = method === 'CreateArtifact' || method === 'FinalizeArtifact';
    if (writes && b.workflow_job_run_backend_id !== claims.job) {
      this.refuse(
        `ArtifactService/${method} for job ${String(b.workflow_job_run_backend_id)} with a token for ${claims.job}`,
      );
      return twirpError(403, 'permission_denied', 'the token does not cover this job');
    }
    const find = (name: unknown) =>
      this.artifacts.find(
        (a) =>
          a.name === name &&
          a.runBackendId === b.workflow_run_backend_id &&
          a.jobBackendId === b.workflow_job_run_backend_id,
      );

    switch (method) {
      case 'CreateArtifact': {
        if (find(b.name)) {
          return twirpError(409, 'already_exists', 'an artifact with this name already exists on the workflow run');
        }
        const a: StoredArtifact = {
          id: this.nextId++,
          name: String(b.name),
          runBackendId: claims.run,
          jobBackendId: claims.job,
          expiresAt: typeof b.expires_at === 'string' ? b.expires_at : undefined,
          mimeType: typeof b.mime_type === 'string' ? b.mime_type : undefined,
          finalized: false,
        };
        this.artifacts.push(a);
        return {
          status: 200,
          body: { ok: true, signed_upload_url: this.blobs.signedUrl(this.container(a), a.name, 'cw') },
        };
      }
      case 'FinalizeArtifact': {
        const a = find(b.name);
        const data = a && this.blobs.get(this.container(a), a.name);
        if (!a || !data) {
          this.refuse(`ArtifactService/FinalizeArtifact of ${String(b.name)} with nothing uploaded`);
          return twirpError(404, 'not_found', 'no uploaded artifact');
        }
        // What the client measured while uploading must be what arrived.
        const size = String(b.size ?? '');
        const hash = typeof b.hash === 'string' ? b.hash : undefined;
        if (size !== String(data.length) || (hash !== undefined && hash !== sha256(data))) {
          this.refuse(
            `ArtifactService/FinalizeArtifact of ${a.name}: reported ${size} B ${hash ?? '(no hash)'}, stored ${data.length} B ${sha256(data)}`,
          );
          return twirpError(400, 'invalid_argument', 'artifact size or hash does not match the uploaded content');
        }
        Object.assign(a, { finalized: true, size, hash: sha256(data), data });
        return { status: 200, body: { ok: true, artifact_id: String(a.id) } };
      }
      case 'ListArtifacts': {
        const byName = typeof b.name_filter === 'string' ? b.name_filter : undefined;
        const byId = typeof b.id_filter === 'string' ? Number(b.id_filter) : undefined;
        const list = this.artifacts.filter(
          (a) =>
            a.finalized &&
            a.runBackendId === claims.run &&
            (byName === undefined || a.name === byName) &&
            (byId === undefined || a.id === byId),
        );
        return {
          status: 200,
          body: {
            artifacts: list.map((a) => ({
              workflow_run_backend_id: a.runBackendId,
              workflow_job_run_backend_id: a.jobBackendId,
              database_id: String(a.id),
              name: a.name,
              size: a.size,
              created_at: new Date().toISOString(),
              digest: a.hash,
            })),
          },
        };
      }
      case 'GetSignedArtifactURL': {
        const a = find(b.name);
        if (!a?.finalized) {
          this.refuse(`ArtifactService/GetSignedArtifactURL of ${String(b.name)}: no such artifact`);
          return twirpError(404, 'not_found', 'no artifact');
        }
        const rscd = `attachment; filename="${a.name}"`;
        return { status: 200, body: { signed_url: this.blobs.signedUrl(this.container(a), a.name, 'r', { rscd }) } };
      }
      default:
        throw new Error(`unreachable: ${method}`);
    }
  }
}

export async function startResultsService(): Promise<ResultsStandIn> {
  const calls: string[] = [];
  const unexpected: string[] = [];
  const refuse = (why: string): void => void unexpected.push(why);
  let base = '';
  const blobs = new BlobStore(() => base, refuse);
  const artifacts = new ArtifactService(blobs, refuse);
  const cache = new CacheService(blobs, refuse);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks);
        const url = new URL(req.url ?? '/', base);
        const reply = (r: TwirpReply): void => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(r.body));
        };
        if (url.pathname.startsWith('/blob/')) {
          calls.push(`blob ${req.method} ${url.searchParams.get('comp') ?? ''}`.trim());
          blobs.handle(req, url, raw, res);
          return;
        }
        const service = [ARTIFACT_SERVICE, CACHE_SERVICE].find((s) => url.pathname.startsWith(s));
        if (!service || req.method !== 'POST') {
          refuse(`no route for ${req.method} ${url.pathname}`);
          return reply(twirpError(404, 'bad_route', `no route for ${req.method} ${url.pathname}`));
        }
        const method = url.pathname.slice(service.length);
        calls.push(method);
        let claims: RuntimeClaims;
        try {
          claims = await verifyRuntimeToken(req.headers.authorization);
        } catch (e) {
          if (!(e instanceof TokenError)) throw e;
          refuse(`${method}: ${e.message}`);
          return reply(twirpError(401, 'unauthenticated', e.message));
        }
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          refuse(`${method}: body is not JSON`);
          return reply(twirpError(400, 'malformed', 'the body is not JSON'));
        }
        reply(service === CACHE_SERVICE ? cache.handle(method, body, claims) : artifacts.handle(method, body, claims));
      })().catch((e: unknown) => {
        refuse(`stand-in error: ${(e as Error).message}`);
        res.writeHead(500);
        res.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    artifacts: artifacts.artifacts,
    cache,
    blobs,
    calls,
    unexpected,
    runtimeToken,
    takeUnexpected: () => unexpected.splice(0),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

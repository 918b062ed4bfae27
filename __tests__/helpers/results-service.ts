/**
 * A loopback stand-in for the Actions results service as @actions/artifact
 * speaks to it: Twirp JSON (CreateArtifact, FinalizeArtifact, ListArtifacts,
 * GetSignedArtifactURL) with the runtime token as bearer, plus the Azure
 * blob endpoints the upload goes to (block PUTs and the block list) and a
 * download URL.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StoredArtifact {
  id: number;
  name: string;
  runBackendId: string;
  jobBackendId: string;
  expiresAt?: string;
  mimeType?: string;
  blocks: Map<string, Buffer>;
  data?: Buffer;
  finalized: boolean;
  size?: string;
  hash?: string;
}

export interface ResultsStandIn {
  url: string;
  artifacts: StoredArtifact[];
  calls: string[];
  close(): Promise<void>;
}

/** An unsigned JWT (alg none) with the scope claim the artifact client reads. */
export function runtimeToken(runBackendId: string, jobBackendId: string): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ scp: `Actions.GenericRead:x Actions.Results:${runBackendId}:${jobBackendId}` })}.`;
}

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/';

/** The backend ids in a runtime token's scope, as the service would check its signature. */
function scopeOf(auth: string | undefined): { run: string; job: string } | undefined {
  const jwt = /^Bearer ([^.]+)\.([^.]+)\./.exec(auth ?? '')?.[2];
  if (!jwt) return undefined;
  const scp = (JSON.parse(Buffer.from(jwt, 'base64url').toString('utf8')) as { scp?: string }).scp ?? '';
  const m = /Actions\.Results:([^: ]+):([^: ]+)/.exec(scp);
  return m ? { run: m[1]!, job: m[2]! } : undefined;
}

export async function startResultsService(): Promise<ResultsStandIn> {
  const artifacts: StoredArtifact[] = [];
  const calls: string[] = [];
  let nextId = 41;
  let base = '';
  const sig = 'c2lnbmF0dXJl';

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', base);
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const blob = (status: number, headers: Record<string, string> = {}): void => {
        res.writeHead(status, {
          'x-ms-request-id': `req-${Date.now()}`,
          'x-ms-version': '2024-11-04',
          etag: '"0x1"',
          'last-modified': new Date().toUTCString(),
          'x-ms-request-server-encrypted': 'true',
          ...headers,
        });
        res.end();
      };

      if (url.pathname.startsWith(SERVICE)) {
        const method = url.pathname.slice(SERVICE.length);
        calls.push(method);
        const scope = scopeOf(req.headers.authorization);
        const b = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
        // A job may only write to its own run, as the real service enforces through the token.
        if (!scope || (b.workflow_run_backend_id !== undefined && b.workflow_run_backend_id !== scope.run)) {
          return json(401, { code: 'unauthenticated', msg: 'token does not cover this run' });
        }
        const find = (name: unknown) =>
          artifacts.find(
            (a) =>
              a.name === name &&
              a.runBackendId === b.workflow_run_backend_id &&
              a.jobBackendId === b.workflow_job_run_backend_id,
          );
        switch (method) {
          case 'CreateArtifact': {
            if (find(b.name))
              return json(409, {
                code: 'already_exists',
                msg: 'an artifact with this name already exists on the workflow run',
              });
            const a: StoredArtifact = {
              id: nextId++,
              name: String(b.name),
              runBackendId: String(b.workflow_run_backend_id),
              jobBackendId: String(b.workflow_job_run_backend_id),
              expiresAt: typeof b.expires_at === 'string' ? b.expires_at : undefined,
              mimeType: typeof b.mime_type === 'string' ? b.mime_type : undefined,
              blocks: new Map(),
              finalized: false,
            };
            artifacts.push(a);
            return json(200, {
              ok: true,
              signed_upload_url: `${base}/blob/${a.id}/${encodeURIComponent(a.name)}?sv=2024&sig=${sig}`,
            });
          }
          case 'FinalizeArtifact': {
            const a = find(b.name);
            if (!a || !a.data) return json(404, { code: 'not_found', msg: 'no uploaded artifact' });
            a.finalized = true;
            a.size = String(b.size);
            a.hash = typeof b.hash === 'string' ? b.hash : undefined;
            return json(200, { ok: true, artifact_id: String(a.id) });
          }
          case 'ListArtifacts': {
            const byName = typeof b.name_filter === 'string' ? b.name_filter : undefined;
            const byId = typeof b.id_filter === 'string' ? Number(b.id_filter) : undefined;
            const list = artifacts.filter(
              (a) =>
                a.finalized &&
                a.runBackendId === b.workflow_run_backend_id &&
                (byName === undefined || a.name === byName) &&
                (byId === undefined || a.id === byId),
            );
            return json(200, {
              artifacts: list.map((a) => ({
                workflow_run_backend_id: a.runBackendId,
                workflow_job_run_backend_id: a.jobBackendId,
                database_id: String(a.id),
                name: a.name,
                size: String(a.data?.length ?? 0),
                created_at: new Date().toISOString(),
              })),
            });
          }
          case 'GetSignedArtifactURL': {
            const a = find(b.name);
            if (!a) return json(404, { code: 'not_found', msg: 'no artifact' });
            return json(200, { signed_url: `${base}/download/${a.id}?sig=${sig}` });
          }
          default:
            return json(404, { code: 'bad_route', msg: `no method ${method}` });
        }
      }

      let m: RegExpExecArray | null;
      if ((m = /^\/blob\/(\d+)\//.exec(url.pathname)) && req.method === 'PUT') {
        calls.push(`blob ${url.searchParams.get('comp') ?? 'put'}`);
        const a = artifacts.find((x) => x.id === Number(m![1]));
        if (!a || url.searchParams.get('sig') !== sig) return blob(403);
        const comp = url.searchParams.get('comp');
        if (comp === 'block') {
          a.blocks.set(url.searchParams.get('blockid') ?? '', raw);
          return blob(201, { 'content-md5': '' });
        }
        if (comp === 'blocklist') {
          const ids = [...raw.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map(
            (x) => x[1]!,
          );
          a.data = Buffer.concat(ids.map((id) => a.blocks.get(id) ?? Buffer.alloc(0)));
          return blob(201);
        }
        a.data = raw;
        return blob(201);
      }
      if ((m = /^\/download\/(\d+)$/.exec(url.pathname)) && req.method === 'GET') {
        const a = artifacts.find((x) => x.id === Number(m![1]));
        if (!a?.data || url.searchParams.get('sig') !== sig) return blob(404);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(a.data.length),
          'content-disposition': `attachment; filename="${a.name}"`,
        });
        return res.end(a.data);
      }
      return json(404, { msg: `stand-in: no route for ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: `${base}/`, artifacts, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

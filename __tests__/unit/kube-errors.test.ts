/**
 * Error mapping of the Kubernetes client: the pure mapping, and the client
 * against a loopback HTTP server for answers the lab's API server never
 * gives (a proxy's HTML page, a refused connection).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildKubeconfig,
  createKubeClient,
  isConflict,
  isNotFound,
  KubeApiError,
  KubeConflictError,
  KubeConnectionError,
  KubeGoneError,
  KubeNotFoundError,
  type KubeClient,
  type Kubeconfig,
} from '../../src/kube/index.js';
import { kubeApiError } from '../../src/kube/errors.js';

const op = { verb: 'replace', target: 'Lease kube-system/capi-mgmt-prod-lock' };
const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  code,
  reason,
  message,
});

describe('kubeApiError', () => {
  it('maps 409 to a typed conflict with the API reason and message', () => {
    const e = kubeApiError(op, 409, status(409, 'Conflict', 'the object has been modified'));
    expect(e).toBeInstanceOf(KubeConflictError);
    expect(e).toBeInstanceOf(KubeApiError);
    expect(isConflict(e)).toBe(true);
    expect(e).toMatchObject({ status: 409, reason: 'Conflict', apiMessage: 'the object has been modified' });
    expect(e).toMatchObject({ verb: 'replace', target: 'Lease kube-system/capi-mgmt-prod-lock' });
    expect(e.message).toBe(
      'replace Lease kube-system/capi-mgmt-prod-lock: HTTP 409 Conflict: the object has been modified',
    );
  });

  it('maps 404 and 410 to their own types and anything else to KubeApiError', () => {
    expect(kubeApiError(op, 404, status(404, 'NotFound', 'x'))).toBeInstanceOf(KubeNotFoundError);
    expect(isNotFound(kubeApiError(op, 404, undefined))).toBe(true);
    expect(kubeApiError(op, 410, status(410, 'Expired', 'too old resource version'))).toBeInstanceOf(KubeGoneError);
    const forbidden = kubeApiError(op, 403, status(403, 'Forbidden', 'leases is forbidden'));
    expect(forbidden.constructor).toBe(KubeApiError);
    expect(isConflict(forbidden) || isNotFound(forbidden)).toBe(false);
  });

  it('uses the HTTP reason phrase and one bounded line when the body is not a Status', () => {
    const html = `<html>\n<body>${'bad gateway '.repeat(100)}</body>\n</html>`;
    const e = kubeApiError(op, 502, html);
    expect(e.reason).toBe('Bad Gateway');
    expect(e.message).not.toContain('\n');
    expect(e.apiMessage.length).toBeLessThanOrEqual(403);
    expect(kubeApiError(op, 500, undefined).message).toBe(`${op.verb} ${op.target}: HTTP 500 Internal Server Error`);
  });
});

/** client-node speaks plain HTTP only with TLS verification off, which is all a loopback test needs. */
function plainHttp(port: number): Kubeconfig {
  const kc = buildKubeconfig({ name: 'loop', server: `http://127.0.0.1:${port}`, credentials: { token: 'x' } });
  kc.clusters[0]!.cluster['insecure-skip-tls-verify'] = true;
  return kc;
}

describe('the client against a loopback server', () => {
  const SECRET = 'c2VjcmV0LXZhbHVlLW5ldmVyLWluLWVycm9ycw==';
  let server: http.Server;
  let kube: KubeClient;
  const seen: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url}`);
        const json = (code: number, v: unknown): void => {
          res.writeHead(code, { 'content-type': 'application/json' });
          res.end(JSON.stringify(v));
        };
        if (req.url === '/api/v1') {
          return json(200, {
            kind: 'APIResourceList',
            groupVersion: 'v1',
            resources: [{ name: 'secrets', namespaced: true, kind: 'Secret', verbs: ['create', 'get'] }],
          });
        }
        if (req.url?.includes('watch=true') && req.url.includes('resourceVersion=7')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          const added = { type: 'ADDED', object: { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'a' } } };
          const expired = { type: 'ERROR', object: status(410, 'Expired', 'too old resource version: 7 (42)') };
          return res.end(`${JSON.stringify(added)}\n${JSON.stringify(expired)}\n`);
        }
        if (req.method === 'POST') return json(409, status(409, 'AlreadyExists', 'secrets "s" already exists'));
        if (req.method === 'PUT') {
          res.writeHead(502, { 'content-type': 'text/html' });
          return res.end('<html><body>upstream failed</body></html>');
        }
        if (req.url === '/raw/text') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end('ok');
        }
        return json(403, status(403, 'Forbidden', 'secrets "s" is forbidden'));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    kube = createKubeClient(plainHttp(port));
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', namespace: 'default' },
    data: { password: SECRET },
  };

  it('throws typed errors that never carry the request body', async () => {
    const created = await kube.create(secret).catch((e: unknown) => e);
    expect(created).toBeInstanceOf(KubeConflictError);
    expect(created).toMatchObject({ reason: 'AlreadyExists', verb: 'create', target: 'Secret default/s' });
    const replaced = await kube.replace(secret).catch((e: unknown) => e);
    expect(replaced).toBeInstanceOf(KubeApiError);
    expect(replaced).toMatchObject({ status: 502, reason: 'Bad Gateway' });
    expect((replaced as Error).message).toContain('upstream failed');
    const read = await kube.get({ apiVersion: 'v1', kind: 'Secret', name: 's', namespace: 'default' }).catch((e) => e);
    expect(read).toMatchObject({ status: 403, reason: 'Forbidden', verb: 'read' });
    for (const e of [created, replaced, read]) expect(String((e as Error).message)).not.toContain(SECRET);
    expect(seen).toContain('POST /api/v1/namespaces/default/secrets?fieldManager=capi-mgmt');
  });

  it('refuses to write a kind the server does not serve', async () => {
    const widget = { apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w' } };
    await expect(kube.create(widget)).rejects.toThrow(/create Widget w: HTTP 404 NotFound: the server does not serve/);
  });

  it('yields watch events and throws a 410 ERROR event as KubeGoneError', async () => {
    const seenTypes: string[] = [];
    const watching = (async () => {
      for await (const ev of kube.watch(
        { apiVersion: 'v1', kind: 'Secret', namespace: 'default' },
        { resourceVersion: '7' },
      ))
        seenTypes.push(ev.type);
    })();
    await expect(watching).rejects.toBeInstanceOf(KubeGoneError);
    await expect(watching).rejects.toThrow('watch Secret (v1) in default: HTTP 410 Expired: too old resource version');
    expect(seenTypes).toEqual(['ADDED']);
  });

  it('throws a refused watch with the API message', async () => {
    const refused = (async () => {
      for await (const ev of kube.watch({ apiVersion: 'v1', kind: 'Secret' }, { resourceVersion: '8' })) void ev;
    })();
    await expect(refused).rejects.toMatchObject({ status: 403, reason: 'Forbidden', verb: 'watch' });
  });

  it('hands back any status from a raw request, with the body parsed', async () => {
    const r = await kube.request({ method: 'GET', path: '/api/v1/namespaces/default/secrets/s' });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
    expect(await kube.request({ method: 'GET', path: '/raw/text' })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('reports a refused connection as KubeConnectionError naming the server', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const gone = createKubeClient(plainHttp(port));
    const e = await gone.serverVersion().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(KubeConnectionError);
    expect((e as Error).message).toMatch(
      new RegExp(`^read server version: no answer from http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  });
});

describe('connections', () => {
  it('reuses its connections for requests one after another, instead of one per request', async () => {
    let connections = 0;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ major: '1', minor: '33', gitVersion: 'v1.33.0' }));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const kube = createKubeClient(plainHttp((server.address() as AddressInfo).port));
      for (let i = 0; i < 10; i++) await kube.serverVersion();
      // undici may open a second one while the first is being handed back; one per request was 10.
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

/**
 * Just enough of the Kubernetes API for the Lease lock: JSON requests with
 * the kubeconfig's credentials (bearer token or client certificate, CA
 * data), so the lock can compare-and-swap on resourceVersion (create, then
 * PUT with the version read; a 409 means another run won). It should move
 * into src/kube once KubeClient offers create/replace with a resourceVersion.
 */
import https from 'node:https';
import http from 'node:http';
import { parse } from 'yaml';

export interface KubeReply {
  status: number;
  body: unknown;
}

export interface KubeRequester {
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<KubeReply>;
}

interface Named<T> {
  name: string;
  [key: string]: unknown;
  value?: T;
}

type Kubeconfig = {
  'current-context'?: string;
  contexts?: Array<Named<never> & { context?: { cluster?: string; user?: string } }>;
  clusters?: Array<Named<never> & { cluster?: Record<string, unknown> }>;
  users?: Array<Named<never> & { user?: Record<string, unknown> }>;
};

const b64 = (v: unknown): Buffer | undefined => (typeof v === 'string' ? Buffer.from(v, 'base64') : undefined);

export function kubeRequester(kubeconfigText: string, timeoutMs = 30_000): KubeRequester {
  const kc = parse(kubeconfigText) as Kubeconfig;
  const ctx = kc.contexts?.find((c) => c.name === kc['current-context']) ?? kc.contexts?.[0];
  const cluster = kc.clusters?.find((c) => c.name === ctx?.context?.cluster)?.cluster;
  const user = kc.users?.find((u) => u.name === ctx?.context?.user)?.user ?? {};
  if (!cluster || typeof cluster.server !== 'string')
    throw new Error('kubeconfig: no cluster server for the current context');
  const server = new URL(cluster.server);
  const tls: https.RequestOptions = {
    ca: b64(cluster['certificate-authority-data']),
    cert: b64(user['client-certificate-data']),
    key: b64(user['client-key-data']),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
  };
  const token = typeof user.token === 'string' ? user.token : undefined;

  return {
    request(method, path, body) {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const lib = server.protocol === 'https:' ? https : http;
      return new Promise((resolve, reject) => {
        const req = lib.request(
          {
            ...tls,
            method,
            hostname: server.hostname,
            port: server.port,
            path: `${server.pathname.replace(/\/$/, '')}${path}`,
            timeout: timeoutMs,
            headers: {
              accept: 'application/json',
              ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown = text;
              try {
                parsed = text ? JSON.parse(text) : undefined;
              } catch {
                // not JSON: keep the text for the error message
              }
              resolve({ status: res.statusCode ?? 0, body: parsed });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`kubernetes API: ${method} ${path} timed out`)));
        req.on('error', reject);
        req.end(data);
      });
    },
  };
}

/**
 * A plain-HTTP proxy in front of a lab kube-apiserver that records every
 * request, so a test can prove a run made no write. It authenticates
 * upstream with the kubeconfig's own credentials and hands out a kubeconfig
 * (server http://127.0.0.1:<port>, no credentials) that both
 * @kubernetes/client-node and helm accept.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

interface RecordedRequest {
  method: string;
  path: string;
  dryRun: boolean;
}

export interface ApiCounter {
  kubeconfig: string;
  requests: RecordedRequest[];
  /** Requests that change state: non-GET/HEAD and not a dry run. */
  writes(): RecordedRequest[];
  reset(): void;
  close(): Promise<void>;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function startApiCounter(upstreamKubeconfig: string): Promise<ApiCounter> {
  const kc = new KubeConfig();
  kc.loadFromString(upstreamKubeconfig);
  const upstream = new URL(kc.getCurrentCluster()!.server);
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const requests: RecordedRequest[] = [];

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    const dryRun = url.searchParams.get('dryRun') === 'All';
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, dryRun });
    const headers = { ...req.headers, host: upstream.host };
    const up = httpsRequest(
      {
        ...tls,
        protocol: 'https:',
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(up);
    res.on('close', () => up.destroy());
  };

  const server = createServer(forward);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    // client-node refuses plain http unless TLS verification is explicitly off.
    `- name: counted\n  cluster:\n    server: http://127.0.0.1:${port}\n    insecure-skip-tls-verify: true`,
    'users:',
    '- name: counted\n  user: {}',
    'contexts:',
    '- name: counted\n  context:\n    cluster: counted\n    user: counted',
    'current-context: counted',
    '',
  ].join('\n');

  return {
    kubeconfig,
    requests,
    writes: () => requests.filter((r) => !READ_METHODS.has(r.method) && !r.dryRun),
    reset: () => void requests.splice(0),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/**
 * K3s writes a kubeconfig for its API as seen on the seed (https://127.0.0.1:6443).
 * The runner reaches that address through an SSH port forward, so the copy
 * handed on points at the forward's local port, with TLS still verified.
 */
import { parse, stringify } from 'yaml';

interface KubeconfigDoc {
  clusters?: Array<{ name?: string; cluster?: { server?: string; 'tls-server-name'?: string } }>;
  contexts?: Array<{ name?: string; context?: { cluster?: string } }>;
  'current-context'?: string;
}

export interface ApiAddress {
  host: string;
  port: number;
}

function currentCluster(doc: KubeconfigDoc): NonNullable<KubeconfigDoc['clusters']>[number] {
  const ctx = doc.contexts?.find((c) => c.name === doc['current-context']) ?? doc.contexts?.[0];
  const cluster = doc.clusters?.find((c) => c.name === ctx?.context?.cluster) ?? doc.clusters?.[0];
  if (!cluster?.cluster?.server) throw new Error('the K3s kubeconfig names no API server');
  return cluster;
}

function parseDoc(text: string): KubeconfigDoc {
  const doc = parse(text) as unknown;
  if (doc === null || typeof doc !== 'object') throw new Error('the K3s kubeconfig is not a YAML document');
  return doc as KubeconfigDoc;
}

/** Where the API listens, as seen from the seed. */
export function apiAddressOf(text: string): ApiAddress {
  const url = new URL(currentCluster(parseDoc(text)).cluster!.server!);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port ? Number(url.port) : 443 };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Point the kubeconfig at 127.0.0.1:<localPort>. The certificate was issued
 * for the seed-side name; K3s certificates always cover 127.0.0.1, so a
 * loopback server needs nothing more, and any other name is kept as
 * tls-server-name so verification still checks it.
 */
export function rewriteForTunnel(text: string, localPort: number): string {
  const doc = parseDoc(text);
  const cluster = currentCluster(doc).cluster!;
  const original = new URL(cluster.server!);
  const host = original.hostname.replace(/^\[(.*)\]$/, '$1');
  cluster.server = `https://127.0.0.1:${localPort}`;
  if (!LOOPBACK.has(host) && cluster['tls-server-name'] === undefined) cluster['tls-server-name'] = host;
  return stringify(doc);
}

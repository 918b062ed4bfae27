/**
 * The one kubeconfig module: parse (with errors that name the line and the
 * field, never a value), rewrite (a token instead of a client certificate;
 * another server URL for a tunnel, optionally still verifying the original
 * name) and build from parts. A `Kubeconfig` is the file's own shape as
 * plain data, so a rewrite keeps every field it does not touch.
 */
import fs from 'node:fs';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { LineCounter, parseDocument, stringify, type Document } from 'yaml';
import { z } from 'zod';

const clusterFields = z.looseObject({
  server: z.string().min(1),
  'certificate-authority-data': z.string().optional(),
  'certificate-authority': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': z.string().optional(),
  'proxy-url': z.string().optional(),
});

const userFields = z.looseObject({
  token: z.string().optional(),
  'token-file': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key-data': z.string().optional(),
  'client-certificate': z.string().optional(),
  'client-key': z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  as: z.string().optional(),
  exec: z.unknown().optional(),
  'auth-provider': z.unknown().optional(),
});

const contextFields = z.looseObject({
  cluster: z.string().min(1),
  user: z.string().optional(),
  namespace: z.string().optional(),
});

const schema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('Config').optional(),
  clusters: z.array(z.looseObject({ name: z.string().min(1), cluster: clusterFields })),
  users: z.array(z.looseObject({ name: z.string().min(1), user: userFields.nullish() })).default([]),
  contexts: z.array(z.looseObject({ name: z.string().min(1), context: contextFields })),
  'current-context': z.string().optional(),
});

export type Kubeconfig = z.infer<typeof schema>;
type ClusterEntry = z.infer<typeof clusterFields>;
type UserEntry = z.infer<typeof userFields>;
type ContextEntry = z.infer<typeof contextFields>;

/** A kubeconfig that cannot be used; `problems` are `line L, col C: path: what` lines without values. */
export class KubeconfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source} is not a usable kubeconfig: ${problems.join('; ')}`);
    this.name = 'KubeconfigError';
  }
}

type Path = readonly PropertyKey[];
const dotted = (p: Path): string =>
  p.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');

function positionOf(doc: Document, lc: LineCounter, path: Path): string {
  // The deepest node that exists along the path: a missing key is reported where its parent is.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) {
      const { line, col } = lc.linePos(node.range[0]);
      return `line ${line}, col ${col}`;
    }
  }
  return 'line 1, col 1';
}

/**
 * Parse and check a kubeconfig: YAML syntax, the shape of clusters, users
 * and contexts, and that the current context (or the only one) names a
 * cluster and a user that exist.
 */
export function parseKubeconfig(text: string, source = 'kubeconfig'): Kubeconfig {
  const lc = new LineCounter();
  // prettyErrors off: a pretty error quotes the offending line, which may hold a token.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new KubeconfigError(
      source,
      doc.errors.map((e) => {
        const { line, col } = lc.linePos(e.pos[0]);
        return `line ${line}, col ${col}: YAML syntax error (${e.code})`;
      }),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new KubeconfigError(source, ['line 1, col 1: expected a mapping with clusters, users and contexts']);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new KubeconfigError(
      source,
      parsed.error.issues.map((i) => {
        const where = positionOf(doc, lc, i.path);
        const expected = i.code === 'invalid_type' ? `expected ${i.expected}` : i.message;
        return `${where}: ${dotted(i.path) || '(top level)'}: ${expected}`;
      }),
    );
  }
  const kc = parsed.data;
  const problems = referenceProblems(kc);
  if (problems.length > 0) throw new KubeconfigError(source, problems);
  return kc;
}

function referenceProblems(kc: Kubeconfig): string[] {
  const out: string[] = [];
  let context: ContextEntry | undefined;
  const name = kc['current-context'];
  if (name) {
    context = kc.contexts.find((c) => c.name === name)?.context;
    if (!context) out.push(`current-context: names context "${name}", which is not in contexts`);
  } else if (kc.contexts.length === 1) {
    context = kc.contexts[0]!.context;
  } else {
    out.push(`current-context: missing, and there are ${kc.contexts.length} contexts to choose from`);
  }
  if (context) {
    const cluster = kc.clusters.find((c) => c.name === context.cluster)?.cluster;
    if (!cluster) out.push(`the current context names cluster "${context.cluster}", which is not in clusters`);
    else if (!/^https?:\/\/[^/]/.test(cluster.server)) {
      out.push(`cluster "${context.cluster}": server must be an http(s) URL`);
    }
    if (context.user !== undefined && !kc.users.some((u) => u.name === context.user)) {
      out.push(`the current context names user "${context.user}", which is not in users`);
    }
  }
  return out;
}

export interface Current {
  contextName: string;
  context: ContextEntry;
  cluster: ClusterEntry;
  /** Empty when the context names no user (anonymous). */
  user: UserEntry;
  clusterName: string;
  userName: string | undefined;
}

/** What the current context points at (checked by `parseKubeconfig`). */
export function currentOf(kc: Kubeconfig): Current {
  const entry = kc['current-context']
    ? kc.contexts.find((c) => c.name === kc['current-context'])
    : kc.contexts.length === 1
      ? kc.contexts[0]
      : undefined;
  if (!entry) throw new KubeconfigError('kubeconfig', ['no current context']);
  const cluster = kc.clusters.find((c) => c.name === entry.context.cluster)?.cluster;
  if (!cluster) throw new KubeconfigError('kubeconfig', [`no cluster "${entry.context.cluster}"`]);
  const userName = entry.context.user;
  return {
    contextName: entry.name,
    context: entry.context,
    cluster,
    clusterName: entry.context.cluster,
    user: (userName ? kc.users.find((u) => u.name === userName)?.user : undefined) ?? {},
    userName,
  };
}

/** The API server URL, for messages (never the credentials). */
export function serverOf(kc: Kubeconfig): string {
  return currentOf(kc).cluster.server;
}

export interface ApiAddress {
  host: string;
  port: number;
}

/** Host and port of the API server (IPv6 without brackets), e.g. to forward a port to it. */
export function apiAddressOf(kc: Kubeconfig): ApiAddress {
  const url = new URL(serverOf(kc));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443 };
}

export const stringifyKubeconfig = (kc: Kubeconfig): string => stringify(kc);

/** A deep copy whose current cluster and user entries may be changed without touching `kc`. */
function editable(kc: Kubeconfig): { copy: Kubeconfig; cur: Current } {
  const copy = structuredClone(kc);
  return { copy, cur: currentOf(copy) };
}

export interface ServerOptions {
  /**
   * Verify the server's certificate for this name instead of the URL's host
   * (`tls-server-name`); `undefined` removes any name set before.
   */
  tlsServerName?: string;
}

/** The same kubeconfig pointing its current cluster at another server URL. */
export function withServer(kc: Kubeconfig, server: string, o: ServerOptions = {}): Kubeconfig {
  const { copy, cur } = editable(kc);
  cur.cluster.server = server;
  if (o.tlsServerName === undefined) delete cur.cluster['tls-server-name'];
  else cur.cluster['tls-server-name'] = o.tlsServerName;
  return copy;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Point the kubeconfig at a local port forward (`https://127.0.0.1:<port>`)
 * with TLS still verified: the certificate was issued for the original
 * host, so a host other than loopback becomes `tls-server-name` (one set
 * already is kept). A loopback original needs nothing: the serving
 * certificates this tool meets (K3s, kubeadm) always cover 127.0.0.1.
 */
export function forTunnel(kc: Kubeconfig, localPort: number): Kubeconfig {
  const { cluster } = currentOf(kc);
  const { host } = apiAddressOf(kc);
  const name = cluster['tls-server-name'] ?? (LOOPBACK.has(host) ? undefined : host);
  return withServer(kc, `https://127.0.0.1:${localPort}`, name === undefined ? {} : { tlsServerName: name });
}

/** Fields that authenticate a user; a token replaces all of them. */
const CREDENTIAL_FIELDS = [
  'client-certificate-data',
  'client-key-data',
  'client-certificate',
  'client-key',
  'token',
  'token-file',
  'username',
  'password',
  'exec',
  'auth-provider',
] as const;

/**
 * The same kubeconfig authenticating the current context with a bearer
 * token instead of whatever it had (client certificate, exec plugin, ...).
 * The user entry is renamed when given, so other contexts sharing the old
 * user keep it.
 */
export function withToken(kc: Kubeconfig, token: string, o: { userName?: string } = {}): Kubeconfig {
  const copy = structuredClone(kc);
  const cur = currentOf(copy);
  const userName = o.userName ?? cur.userName ?? `${cur.contextName}-token`;
  const user: UserEntry = Object.fromEntries(
    Object.entries(cur.user).filter(([k]) => !(CREDENTIAL_FIELDS as readonly string[]).includes(k)),
  );
  user.token = token;
  copy.users = [...copy.users.filter((u) => u.name !== userName), { name: userName, user }];
  cur.context.user = userName;
  return copy;
}

type Credentials = { token: string } | { clientCertificatePem: string; clientKeyPem: string };

export interface KubeconfigParts {
  /** Names the cluster, user and context (`capi-mgmt-prod`). */
  name: string;
  server: string;
  /** PEM of the CA that signed the serving certificate; without it the system's CAs are used. */
  caPem?: string;
  tlsServerName?: string;
  credentials: Credentials;
  namespace?: string;
}

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

/** A single-context kubeconfig from its parts. */
export function buildKubeconfig(p: KubeconfigParts): Kubeconfig {
  const cluster: ClusterEntry = { server: p.server };
  if (p.caPem) cluster['certificate-authority-data'] = b64(p.caPem);
  if (p.tlsServerName) cluster['tls-server-name'] = p.tlsServerName;
  const user: UserEntry =
    'token' in p.credentials
      ? { token: p.credentials.token }
      : {
          'client-certificate-data': b64(p.credentials.clientCertificatePem),
          'client-key-data': b64(p.credentials.clientKeyPem),
        };
  const context: ContextEntry = { cluster: p.name, user: p.name };
  if (p.namespace) context.namespace = p.namespace;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: p.name, cluster }],
    users: [{ name: p.name, user }],
    contexts: [{ name: p.name, context }],
    'current-context': p.name,
  };
}

/** client-node's configuration object for a checked kubeconfig (the only place one is made). */
export function toClientConfig(kc: Kubeconfig): KubeConfig {
  const cur = currentOf(kc);
  const clusters: Cluster[] = kc.clusters.map(({ name, cluster: c }) => ({
    name,
    server: c.server.replace(/\/$/, ''),
    caData: c['certificate-authority-data'],
    caFile: c['certificate-authority'],
    skipTLSVerify: c['insecure-skip-tls-verify'] === true,
    tlsServerName: c['tls-server-name'],
    proxyUrl: c['proxy-url'],
  }));
  const users: User[] = kc.users.map(({ name, user }) => {
    const u = user ?? {};
    const tokenFile = u['token-file'];
    return {
      name,
      token: u.token ?? (tokenFile ? fs.readFileSync(tokenFile, 'utf8').trim() : undefined),
      certData: u['client-certificate-data'],
      keyData: u['client-key-data'],
      certFile: u['client-certificate'],
      keyFile: u['client-key'],
      username: u.username,
      password: u.password,
      impersonateUser: u.as,
      // client-node runs exec plugins and auth providers itself; their shape is its business.
      exec: u.exec as User['exec'],
      authProvider: u['auth-provider'] as User['authProvider'],
    };
  });
  const contexts: Context[] = kc.contexts.map(({ name, context: c }) => ({
    name,
    cluster: c.cluster,
    user: c.user ?? '',
    namespace: c.namespace,
  }));
  const out = new KubeConfig();
  out.loadFromOptions({ clusters, users, contexts, currentContext: cur.contextName });
  return out;
}

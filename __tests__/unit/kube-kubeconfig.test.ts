import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  apiAddressOf,
  buildKubeconfig,
  currentOf,
  forTunnel,
  KubeconfigError,
  parseKubeconfig,
  serverOf,
  stringifyKubeconfig,
  withServer,
  withToken,
} from '../../src/kube/index.js';
import { toClientConfig } from '../../src/kube/kubeconfig.js';

/** A kubeconfig as K3s writes it. */
const k3sYaml = (server: string): string =>
  [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    '    certificate-authority-data: Q0E=',
    `    server: ${server}`,
    '  name: default',
    'contexts:',
    '- context: {cluster: default, user: default}',
    '  name: default',
    'current-context: default',
    'kind: Config',
    'preferences: {}',
    'users:',
    '- name: default',
    '  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}',
  ].join('\n');

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl';

function problemsOf(text: string): string[] {
  try {
    parseKubeconfig(text, 'seed.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(KubeconfigError);
    expect((e as Error).message).toMatch(/^seed\.yaml is not a usable kubeconfig: /);
    return [...(e as KubeconfigError).problems];
  }
  throw new Error('parsed without error');
}

describe('parseKubeconfig', () => {
  it('reads the current context, its cluster and its user', () => {
    const cur = currentOf(parseKubeconfig(k3sYaml('https://127.0.0.1:6443')));
    expect(cur).toMatchObject({
      contextName: 'default',
      clusterName: 'default',
      userName: 'default',
      cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': 'Q0E=' },
      user: { 'client-key-data': 'S0VZ' },
    });
  });

  it('uses the only context when current-context is missing', () => {
    const text = k3sYaml('https://k.example:6443').replace('current-context: default\n', '');
    expect(serverOf(parseKubeconfig(text))).toBe('https://k.example:6443');
  });

  it('names the line and the field of a wrong shape, and never a value', () => {
    const text = k3sYaml('https://127.0.0.1:6443').replace('    server: https://127.0.0.1:6443', '    server: [1, 2]');
    const problems = problemsOf(text);
    expect(problems).toEqual([
      expect.stringMatching(/^line 5, col 13: clusters\[0\]\.cluster\.server: expected string/),
    ]);
  });

  it('reports a missing key at its parent', () => {
    const problems = problemsOf('clusters:\n- name: a\n  cluster: {}\ncontexts: []\n');
    expect(problems).toEqual([
      expect.stringMatching(/^line 3, col 12: clusters\[0\]\.cluster\.server: expected string/),
    ]);
  });

  it('reports YAML syntax errors by position only (the line could hold a token)', () => {
    const problems = problemsOf(`users:\n- name: a\n  user: {token: "${TOKEN}\n`);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/^line \d+, col \d+: YAML syntax error \(/);
    expect(problems.join('\n')).not.toContain(TOKEN);
  });

  it('checks that the current context and what it names exist', () => {
    const base = k3sYaml('https://127.0.0.1:6443');
    expect(problemsOf(base.replace('current-context: default', 'current-context: prod'))).toEqual([
      'current-context: names context "prod", which is not in contexts',
    ]);
    expect(problemsOf(base.replace('{cluster: default, user: default}', '{cluster: other, user: nobody}'))).toEqual([
      'the current context names cluster "other", which is not in clusters',
      'the current context names user "nobody", which is not in users',
    ]);
    expect(problemsOf(base.replace('https://127.0.0.1:6443', '127.0.0.1:6443'))).toEqual([
      'cluster "default": server must be an http(s) URL',
    ]);
    expect(problemsOf('- just\n- a list\n')).toEqual([
      'line 1, col 1: expected a mapping with clusters, users and contexts',
    ]);
  });
});

describe('API address', () => {
  it('is the host and port of the server, IPv6 without brackets, default ports by scheme', () => {
    expect(apiAddressOf(parseKubeconfig(k3sYaml('https://127.0.0.1:6443')))).toEqual({ host: '127.0.0.1', port: 6443 });
    expect(apiAddressOf(parseKubeconfig(k3sYaml('https://[::1]:6443')))).toEqual({ host: '::1', port: 6443 });
    expect(apiAddressOf(parseKubeconfig(k3sYaml('https://k.example')))).toEqual({ host: 'k.example', port: 443 });
  });
});

describe('rewrites', () => {
  it('points a loopback server at a tunnel and keeps the credentials and other fields', () => {
    const original = parseKubeconfig(k3sYaml('https://127.0.0.1:6443'));
    const doc = parse(stringifyKubeconfig(forTunnel(original, 40123))) as {
      clusters: Array<{ cluster: Record<string, string> }>;
      users: Array<{ user: Record<string, string> }>;
      preferences: unknown;
    };
    expect(doc.clusters[0]!.cluster).toEqual({
      'certificate-authority-data': 'Q0E=',
      server: 'https://127.0.0.1:40123',
    });
    expect(doc.users[0]!.user['client-key-data']).toBe('S0VZ');
    expect(doc.preferences).toEqual({});
    // The input is not changed.
    expect(serverOf(original)).toBe('https://127.0.0.1:6443');
  });

  it('keeps verifying a non-loopback name through the tunnel with tls-server-name', () => {
    const tunnelled = forTunnel(parseKubeconfig(k3sYaml('https://seed.internal:6443')), 40123);
    expect(currentOf(tunnelled).cluster).toMatchObject({
      server: 'https://127.0.0.1:40123',
      'tls-server-name': 'seed.internal',
    });
    // A name set before is the one that counts.
    const again = forTunnel(withServer(tunnelled, 'https://10.0.0.5:6443', { tlsServerName: 'api.seed' }), 1);
    expect(currentOf(again).cluster['tls-server-name']).toBe('api.seed');
  });

  it('moves the server and drops tls-server-name unless asked to keep one', () => {
    const named = withServer(parseKubeconfig(k3sYaml('https://a:1')), 'https://b:2', { tlsServerName: 'a' });
    expect(currentOf(named).cluster).toMatchObject({ server: 'https://b:2', 'tls-server-name': 'a' });
    expect(currentOf(withServer(named, 'https://c:3')).cluster['tls-server-name']).toBeUndefined();
  });

  it('swaps the client certificate for a bearer token', () => {
    const kc = withToken(parseKubeconfig(k3sYaml('https://127.0.0.1:6443')), TOKEN);
    expect(currentOf(kc).user).toEqual({ token: TOKEN });
    expect(kc.users).toHaveLength(1);
    const client = toClientConfig(kc).getCurrentUser();
    expect(client).toMatchObject({ token: TOKEN });
    expect(client?.certData).toBeUndefined();
  });

  it('gives the token its own user when asked, leaving the shared one for other contexts', () => {
    const two = parseKubeconfig(k3sYaml('https://127.0.0.1:6443'));
    two.contexts.push({ name: 'other', context: { cluster: 'default', user: 'default' } });
    const kc = withToken(two, TOKEN, { userName: 'capi-mgmt' });
    expect(kc.users.map((u) => u.name)).toEqual(['default', 'capi-mgmt']);
    expect(kc.contexts.find((c) => c.name === 'other')!.context.user).toBe('default');
    expect(currentOf(kc).user).toEqual({ token: TOKEN });
  });
});

describe('buildKubeconfig', () => {
  const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('builds a token kubeconfig that parses back to the same parts', () => {
    const kc = buildKubeconfig({
      name: 'capi-mgmt-prod',
      server: 'https://api.example:6443',
      caPem,
      credentials: { token: TOKEN },
      namespace: 'kube-system',
    });
    const back = parseKubeconfig(stringifyKubeconfig(kc));
    const cur = currentOf(back);
    expect(cur.contextName).toBe('capi-mgmt-prod');
    expect(cur.context.namespace).toBe('kube-system');
    expect(cur.user).toEqual({ token: TOKEN });
    expect(Buffer.from(cur.cluster['certificate-authority-data']!, 'base64').toString()).toBe(caPem);
    const client = toClientConfig(back);
    expect(client.getCurrentCluster()).toMatchObject({ server: 'https://api.example:6443', skipTLSVerify: false });
  });

  it('builds a client-certificate kubeconfig with tls-server-name', () => {
    const kc = buildKubeconfig({
      name: 'seed',
      server: 'https://127.0.0.1:40000',
      tlsServerName: 'seed.internal',
      credentials: { clientCertificatePem: 'CERT', clientKeyPem: 'KEY' },
    });
    const cur = currentOf(parseKubeconfig(stringifyKubeconfig(kc)));
    expect(cur.user).toEqual({
      'client-certificate-data': Buffer.from('CERT').toString('base64'),
      'client-key-data': Buffer.from('KEY').toString('base64'),
    });
    expect(toClientConfig(kc).getCurrentCluster()?.tlsServerName).toBe('seed.internal');
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RestOpenStackClient } from '../../src/openstack/client.js';
import { parseCloud } from '../../src/openstack/cloud-config.js';
import { chooseMicroversion, readVersionDocument } from '../../src/openstack/microversion.js';
import { closestNames } from '../../src/openstack/errors.js';

type Fault = {
  method: string;
  path: RegExp;
  mode: 'before' | 'after' | 'reset-after' | 'hang' | 'reset-before';
  status?: number;
  body?: string;
};

/** A tiny Keystone + Neutron + Nova: enough to test the client's retry and lookup rules. */
class FakeCloud {
  server = http.createServer((req, res) => void this.handle(req, res));
  networks: Array<{ id: string; name: string; description: string; tags: string[] }> = [];
  tokens = new Set<string>();
  logins = 0;
  faults: Fault[] = [];
  seen: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders }> = [];
  novaMax = '2.93';
  private n = 0;

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  get base(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const u = new URL(req.url!, this.base);
    const method = req.method!;
    this.seen.push({ method, path: u.pathname, headers: req.headers });
    const fault = this.faults.find((f) => f.method === method && f.path.test(u.pathname));
    if (fault) this.faults.splice(this.faults.indexOf(fault), 1);
    if (fault?.mode === 'hang') return;
    if (fault?.mode === 'reset-before') return void req.socket.destroy();
    if (fault?.mode === 'before') return void res.writeHead(fault.status ?? 503).end(fault.body ?? 'unavailable');

    const json = (status: number, v: unknown, headers: Record<string, string> = {}) => {
      if (fault?.mode === 'after') return void res.writeHead(fault.status ?? 500).end(fault.body ?? 'oops');
      if (fault?.mode === 'reset-after') return void req.socket.destroy();
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(v));
    };

    if (u.pathname === '/v3/auth/tokens' && method === 'POST') {
      this.logins++;
      const tok = `tok-${++this.n}`;
      this.tokens.add(tok);
      const ep = (type: string, path: string) => ({
        type,
        endpoints: [{ interface: 'public', region_id: 'RegionOne', url: this.base + path }],
      });
      return json(
        201,
        {
          token: {
            expires_at: new Date(Date.now() + 3600_000).toISOString(),
            project: { id: 'p1' },
            catalog: [ep('network', '/network'), ep('compute', '/compute/v2.1')],
          },
        },
        { 'X-Subject-Token': tok },
      );
    }
    if (!this.tokens.has(String(req.headers['x-auth-token'])))
      return json(401, { error: { message: 'The request you have made requires authentication.' } });

    if (u.pathname === '/compute/v2.1/')
      return json(200, { version: { id: 'v2.1', version: this.novaMax, min_version: '2.1' } });
    if (u.pathname === '/compute/v2.1/flavors/detail') return json(200, { flavors: [] });
    if (u.pathname === '/network/v2.0/networks' && method === 'GET') {
      const name = u.searchParams.get('name');
      return json(200, { networks: this.networks.filter((n) => !name || n.name === name) });
    }
    if (u.pathname === '/network/v2.0/networks' && method === 'POST') {
      if (this.networks.length >= 3)
        return json(409, {
          NeutronError: { type: 'OverQuota', message: "Quota exceeded for resources: ['network'].", detail: '' },
        });
      const net = {
        id: `net-${++this.n}`,
        name: body.network.name,
        description: body.network.description,
        tags: [] as string[],
      };
      this.networks.push(net);
      return json(201, { network: net });
    }
    const tags = /^\/network\/v2.0\/networks\/([^/]+)\/tags$/.exec(u.pathname);
    if (tags && method === 'PUT') {
      const net = this.networks.find((n) => n.id === tags[1]);
      if (!net) return json(404, { NeutronError: { type: 'NetworkNotFound', message: 'not found' } });
      net.tags = body.tags;
      return json(200, { tags: body.tags });
    }
    return json(404, { itemNotFound: { message: `no route ${method} ${u.pathname}` } });
  }
}

const CLOUDS = (url: string) => `clouds:
  t:
    auth_type: v3applicationcredential
    auth: {auth_url: "${url}", application_credential_id: abc, application_credential_secret: s3cr3t-value}
    region_name: RegionOne
`;

describe('OpenStack client against a fake cloud', () => {
  let cloud: FakeCloud;
  let client: RestOpenStackClient;
  const log: string[] = [];

  beforeEach(async () => {
    cloud = new FakeCloud();
    const url = await cloud.start();
    log.length = 0;
    client = new RestOpenStackClient(parseCloud(CLOUDS(url), 't'), {
      timeoutMs: 500,
      random: () => 0.5,
      sleep: async () => {},
      log: (m) => log.push(m),
    });
  });
  afterEach(() => cloud.close());

  const spec = { name: 'n1', description: 'managed by capi-mgmt (capi-mgmt:t)', tags: ['capi-mgmt:t'] };

  it('reuses one token and counts requests per service', async () => {
    await client.listNetworks({ name: 'x' });
    await client.listNetworks({ name: 'y' });
    await client.listFlavors();
    expect(cloud.logins).toBe(1);
    expect(client.stats()).toEqual({ compute: 2, identity: 1, network: 2 });
  });

  it('retries GET on 5xx, reset and timeout', async () => {
    cloud.faults.push({ method: 'GET', path: /networks$/, mode: 'before', status: 503 });
    cloud.faults.push({ method: 'GET', path: /networks$/, mode: 'reset-before' });
    cloud.faults.push({ method: 'GET', path: /networks$/, mode: 'hang' });
    expect(await client.listNetworks({ name: 'x' })).toEqual([]);
    expect(client.stats().network).toBe(4);
  });

  it('a POST whose answer was lost (500 after creating) is looked up, not repeated', async () => {
    cloud.faults.push({ method: 'POST', path: /networks$/, mode: 'after', status: 500 });
    const net = await client.createNetwork(spec);
    expect(cloud.networks).toHaveLength(1);
    expect(net.id).toBe(cloud.networks[0]!.id);
    expect(cloud.networks[0]!.tags).toEqual(['capi-mgmt:t']);
    expect(log.join('\n')).toContain('had taken effect');
  });

  it('a POST reset after sending, or timed out, is looked up too', async () => {
    cloud.faults.push({ method: 'POST', path: /networks$/, mode: 'reset-after' });
    await client.createNetwork(spec);
    cloud.faults.push({ method: 'POST', path: /networks$/, mode: 'after', status: 502 });
    await client.createNetwork({ ...spec, name: 'n2' });
    expect(cloud.networks.map((n) => n.name)).toEqual(['n1', 'n2']);
  });

  it('a POST that failed before creating is retried once the lookup finds nothing', async () => {
    cloud.faults.push({ method: 'POST', path: /networks$/, mode: 'before', status: 503 });
    cloud.faults.push({ method: 'POST', path: /networks$/, mode: 'hang' });
    await client.createNetwork(spec);
    expect(cloud.networks).toHaveLength(1);
    expect(cloud.seen.filter((s) => s.method === 'POST' && s.path.endsWith('/networks'))).toHaveLength(3);
  });

  it('logs in again on 401 and repeats the request', async () => {
    await client.listNetworks({});
    cloud.tokens.clear();
    await client.listNetworks({});
    expect(cloud.logins).toBe(2);
  });

  it('does not retry a 4xx, and words quota errors clearly', async () => {
    for (const name of ['a', 'b', 'c']) await client.createNetwork({ ...spec, name });
    await expect(client.createNetwork({ ...spec, name: 'd' })).rejects.toThrow(
      /^quota exceeded in network .*Quota exceeded for resources/,
    );
    expect(cloud.seen.filter((s) => s.method === 'POST' && s.path.endsWith('/networks'))).toHaveLength(4);
  });

  it('gives up after the last attempt with a message naming the request', async () => {
    for (let i = 0; i < 6; i++) cloud.faults.push({ method: 'GET', path: /networks$/, mode: 'before', status: 503 });
    await expect(client.listNetworks({})).rejects.toThrow(/network: GET \/network\/v2.0\/networks returned 503/);
  });

  it('negotiates the Nova microversion: the preferred one, capped at the server maximum', async () => {
    await client.listFlavors();
    expect(cloud.seen.at(-1)!.headers['openstack-api-version']).toBe('compute 2.90');
    cloud.novaMax = '2.60';
    const c2 = new RestOpenStackClient(parseCloud(CLOUDS(cloud.base), 't'), { sleep: async () => {} });
    await c2.listFlavors();
    expect(cloud.seen.at(-1)!.headers['openstack-api-version']).toBe('compute 2.60');
  });

  it('never puts the secret or the token in error messages or logs', async () => {
    cloud.faults.push({ method: 'GET', path: /networks$/, mode: 'before', status: 500, body: 'boom' });
    await client.listNetworks({});
    for (let i = 0; i < 6; i++) cloud.faults.push({ method: 'GET', path: /networks$/, mode: 'before', status: 500 });
    const err = await client.listNetworks({}).catch((e: Error) => e);
    const text = `${log.join('\n')}\n${String(err)}`;
    expect(text).not.toContain('s3cr3t-value');
    expect(text).not.toMatch(/tok-\d/);
  });
});

describe('OpenStack client pieces', () => {
  it('microversion choice', () => {
    const want = { min: [2, 26] as const, preferred: [2, 90] as const };
    expect(chooseMicroversion('compute', { min: [2, 1], max: [2, 93] }, want)).toEqual([2, 90]);
    expect(chooseMicroversion('compute', { min: [2, 1], max: [2, 79] }, want)).toEqual([2, 79]);
    expect(() => chooseMicroversion('compute', { min: [2, 1], max: [2, 25] }, want)).toThrow(
      /up to 2.25, but at least 2.26/,
    );
    expect(readVersionDocument({ versions: [{ id: 'v3.0', version: '3.70', min_version: '3.0' }] }, 'v3.0')).toEqual({
      min: [3, 0],
      max: [3, 70],
    });
  });

  it('clouds.yaml: password and application credential, interface and verify', () => {
    const pw = parseCloud(
      'clouds: {c: {auth_type: password, auth: {auth_url: "http://k:5000", username: u, password: p, project_name: pr, user_domain_name: D}, interface: internal, verify: false}}',
      'c',
    );
    expect(pw).toMatchObject({
      authUrl: 'http://k:5000/v3',
      interface: 'internal',
      verify: false,
      auth: { type: 'password', username: 'u', projectName: 'pr', userDomainName: 'D' },
    });
    expect(() => parseCloud('clouds: {c: {auth: {auth_url: "http://k"}}}', 'd')).toThrow(/no cloud "d" \(found: c\)/);
    expect(() => parseCloud('clouds: {c: {auth_type: token, auth: {auth_url: "http://k"}}}', 'c')).toThrow(
      /auth_type "token"/,
    );
  });

  it('closest names', () => {
    expect(closestNames('m1.larg', ['m1.tiny', 'm1.large', 'm1.xlarge'])).toEqual(['m1.large', 'm1.xlarge', 'm1.tiny']);
  });
});

/**
 * The lab's critical-path lower bound for seed-infra: the same resources
 * made (and then removed) with raw API calls, one step at a time so no call
 * waits behind another, each step timed on its own (an asynchronous one
 * until a tight poll, every POLL_MS, first sees it done). The bound is the
 * longest chain of dependent steps: what any tool must wait for however
 * many calls it runs at once. Nothing of the tool's code makes these calls:
 * plain fetch with a token, no retries, no JSON mapping, no waits of its own.
 *
 * The dependencies are OpenStack's, written out here on their own: a
 * subnet needs its network, a router interface its router and subnet, a
 * server its network's subnet, key pair and group, an attachment its server
 * and volume, a floating IP's association its server and a router to the
 * outside; removal goes the other way, except that a server may go before
 * its floating IP (Neutron lets go of the address with the port).
 */
import type { CloudConfig } from '../src/openstack/cloud-config.js';

const POLL_MS = 10;
const WAIT_MS = 180_000;

interface Step {
  id: string;
  after: readonly string[];
  ms: number;
}

export interface Bound {
  /**
   * The most work one service must do in turn: the sum of its steps' times.
   * A service that serves one request at a time (the lab's Neutron has one
   * API worker) cannot run independent steps together, so this bounds too.
   */
  createBusiest: { service: string; ms: number };
  deleteBusiest: { service: string; ms: number };
  /** Longest dependent chain of the creates, and the chain itself. */
  createMs: number;
  createPath: string[];
  deleteMs: number;
  deletePath: string[];
  create: Step[];
  delete: Step[];
  requests: number;
}

const CREATE_AFTER: Record<string, readonly string[]> = {
  'security-group': [],
  'security-group-rules': ['security-group'],
  network: [],
  subnet: ['network'],
  router: [],
  'router-interface': ['router', 'subnet'],
  keypair: [],
  volume: [],
  server: ['security-group', 'network', 'subnet', 'keypair'],
  'volume-attachment': ['volume', 'server'],
  'floating-ip': [],
  'floating-ip-association': ['floating-ip', 'server', 'router-interface'],
};

const DELETE_AFTER: Record<string, readonly string[]> = {
  'floating-ip': [],
  server: [],
  volume: ['server'],
  keypair: ['server'],
  'router-interface': ['floating-ip'],
  router: ['router-interface'],
  subnet: ['router-interface', 'server'],
  network: ['subnet'],
  'security-group': ['server'],
};

/** Which service does a step's work (a server's boot is Nova's, though it asks Neutron for its port). */
const SERVICE: Record<string, string> = {
  'security-group': 'network',
  'security-group-rules': 'network',
  network: 'network',
  subnet: 'network',
  router: 'network',
  'router-interface': 'network',
  'floating-ip': 'network',
  'floating-ip-association': 'network',
  keypair: 'compute',
  server: 'compute',
  volume: 'volume',
  'volume-attachment': 'volume',
};

function busiest(steps: readonly Step[]): { service: string; ms: number } {
  const by = new Map<string, number>();
  for (const s of steps) by.set(SERVICE[s.id]!, (by.get(SERVICE[s.id]!) ?? 0) + s.ms);
  const [service, ms] = [...by].sort((a, b) => b[1] - a[1])[0]!;
  return { service, ms };
}

/** The longest path through the steps (each done after all of `after`). */
function longestPath(steps: readonly Step[]): { ms: number; path: string[] } {
  const by = new Map(steps.map((s) => [s.id, s]));
  const memo = new Map<string, { ms: number; path: string[] }>();
  const finish = (id: string): { ms: number; path: string[] } => {
    const hit = memo.get(id);
    if (hit) return hit;
    const s = by.get(id)!;
    let best = { ms: 0, path: [] as string[] };
    for (const d of s.after) if (by.has(d) && finish(d).ms > best.ms) best = finish(d);
    const out = { ms: best.ms + s.ms, path: [...best.path, id] };
    memo.set(id, out);
    return out;
  };
  let best = { ms: 0, path: [] as string[] };
  for (const s of steps) if (finish(s.id).ms > best.ms) best = finish(s.id);
  return best;
}

type Json = Record<string, unknown>;

class Raw {
  requests = 0;
  private token = '';
  private readonly urls = new Map<string, string>();

  constructor(private readonly cloud: CloudConfig) {}

  async login(): Promise<void> {
    const a = this.cloud.auth;
    const identity =
      a.type === 'application-credential'
        ? {
            methods: ['application_credential'],
            application_credential: a.id
              ? { id: a.id, secret: a.secret }
              : {
                  name: a.name,
                  secret: a.secret,
                  user: { name: a.username, domain: { name: a.userDomainName ?? 'Default' } },
                },
          }
        : {
            methods: ['password'],
            password: {
              user: a.userId
                ? { id: a.userId, password: a.password }
                : { name: a.username, password: a.password, domain: { name: a.userDomainName ?? 'Default' } },
            },
          };
    const scope =
      a.type === 'password' && (a.projectId || a.projectName)
        ? {
            project: a.projectId
              ? { id: a.projectId }
              : { name: a.projectName, domain: { name: a.projectDomainName ?? 'Default' } },
          }
        : undefined;
    const r = await fetch(`${this.cloud.authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ auth: { identity, ...(scope ? { scope } : {}) } }),
    });
    if (!r.ok) throw new Error(`lower bound: login failed: HTTP ${r.status}`);
    this.token = r.headers.get('x-subject-token') ?? '';
    const body = (await r.json()) as { token: { catalog: Array<{ type: string; endpoints: Json[] }> } };
    for (const [service, types] of Object.entries({
      compute: ['compute'],
      network: ['network'],
      image: ['image'],
      volume: ['block-storage', 'volumev3'],
    })) {
      const entry = body.token.catalog.find((c) => types.includes(c.type));
      const ep = entry?.endpoints.find(
        (e) =>
          e.interface === this.cloud.interface &&
          (!this.cloud.region || e.region_id === this.cloud.region || e.region === this.cloud.region),
      );
      if (ep) this.urls.set(service, String(ep.url).replace(/\/$/, ''));
    }
  }

  has(service: string): boolean {
    return this.urls.has(service);
  }

  async call(
    service: string,
    method: string,
    path: string,
    body?: unknown,
    ok: readonly number[] = [],
  ): Promise<{ status: number; body: Json }> {
    let base = this.urls.get(service);
    if (!base) throw new Error(`lower bound: no ${service} endpoint`);
    if (service === 'network' && !/\/v2\.0$/.test(base)) base += '/v2.0';
    this.requests++;
    const r = await fetch(base + path, {
      method,
      headers: {
        'X-Auth-Token': this.token,
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(service === 'compute' ? { 'OpenStack-API-Version': 'compute latest' } : {}),
        ...(service === 'volume' ? { 'OpenStack-API-Version': 'volume 3.0' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok && !ok.includes(r.status))
      throw new Error(`lower bound: ${method} ${service} ${path}: HTTP ${r.status} ${text.slice(0, 300)}`);
    return { status: r.status, body: text ? (JSON.parse(text) as Json) : {} };
  }

  /** Poll every POLL_MS until `done` holds for the answer. */
  async until(what: string, read: () => Promise<unknown>, done: (v: unknown) => boolean): Promise<void> {
    const end = Date.now() + WAIT_MS;
    for (;;) {
      const v = await read();
      if (done(v)) return;
      if (Date.now() > end) throw new Error(`lower bound: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}

export interface BoundSpec {
  cloud: CloudConfig;
  /** A unique name for the resources. */
  name: string;
  image: string;
  externalNetwork: string;
  volumeSize: number;
  publicKey: string;
  cidr: string;
}

export async function measureLowerBound(o: BoundSpec): Promise<Bound> {
  const api = new Raw(o.cloud);
  await api.login();
  // Look-ups the tool's observe makes anyway: not part of the chain.
  const flavors = (await api.call('compute', 'GET', '/flavors/detail')).body.flavors as Json[];
  const flavor = (flavors.find((f) => f.name === 'm1.large') ?? flavors[0])!;
  const image = (
    (await api.call('image', 'GET', `/v2/images?name=${encodeURIComponent(o.image)}`)).body.images as Json[]
  )[0]!;
  const ext = (
    (await api.call('network', 'GET', `/networks?router:external=true&name=${encodeURIComponent(o.externalNetwork)}`))
      .body.networks as Json[]
  )[0]!;
  const exts = (await api.call('network', 'GET', '/extensions')).body.extensions as Json[];
  const tagOnCreate = exts.some((e) => e.alias === 'tag-creation');
  const tag = `capi-mgmt:${o.name}`;
  const block = api.has('volume');
  api.requests = 0;

  const ids: Record<string, string> = {};
  const steps: Step[] = [];
  const timed = async (id: string, after: Record<string, readonly string[]>, fn: () => Promise<void>) => {
    const t = performance.now();
    await fn();
    steps.push({ id, after: after[id]!, ms: performance.now() - t });
  };
  /** A Neutron resource with the tag, in one call where Neutron takes tags on create. */
  const neutron = async (collection: string, key: string, body: Json): Promise<string> => {
    const r = await api.call('network', 'POST', `/${collection}`, {
      // Floating IPs have no name: the description marks them.
      [key]: {
        ...(key === 'floatingip' ? { description: o.name } : { name: o.name }),
        ...body,
        ...(tagOnCreate ? { tags: [tag] } : {}),
      },
    });
    const id = String((r.body[key] as Json).id);
    if (!tagOnCreate) await api.call('network', 'PUT', `/${collection}/${id}/tags`, { tags: [tag] });
    return id;
  };
  const volume = async (): Promise<Json> =>
    (await api.call('volume', 'GET', `/volumes/${ids.volume}`, undefined, [404])).body.volume as Json;

  const C = CREATE_AFTER;
  try {
    await timed('security-group', C, async () => {
      ids['security-group'] = await neutron('security-groups', 'security_group', {});
    });
    await timed('security-group-rules', C, async () => {
      await api.call('network', 'POST', '/security-group-rules', {
        security_group_rule: {
          security_group_id: ids['security-group'],
          direction: 'ingress',
          ethertype: 'IPv4',
          protocol: 'tcp',
          port_range_min: 22,
          port_range_max: 22,
          remote_ip_prefix: '0.0.0.0/0',
        },
      });
    });
    await timed('network', C, async () => {
      ids.network = await neutron('networks', 'network', {});
    });
    await timed('subnet', C, async () => {
      ids.subnet = await neutron('subnets', 'subnet', { network_id: ids.network, cidr: o.cidr, ip_version: 4 });
    });
    await timed('router', C, async () => {
      ids.router = await neutron('routers', 'router', { external_gateway_info: { network_id: ext.id } });
    });
    await timed('router-interface', C, async () => {
      await api.call('network', 'PUT', `/routers/${ids.router}/add_router_interface`, { subnet_id: ids.subnet });
      ids['router-interface'] = ids.router!;
    });
    await timed('keypair', C, async () => {
      await api.call('compute', 'POST', '/os-keypairs', { keypair: { name: o.name, public_key: o.publicKey } });
      ids.keypair = o.name;
    });
    if (block) {
      await timed('volume', C, async () => {
        const r = await api.call('volume', 'POST', '/volumes', {
          volume: { name: `${o.name}-data`, size: o.volumeSize, metadata: { 'capi-mgmt-env': tag } },
        });
        ids.volume = String((r.body.volume as Json).id);
        await api.until('volume available', volume, (v) => (v as Json | undefined)?.status === 'available');
      });
    }
    await timed('server', C, async () => {
      const r = await api.call('compute', 'POST', '/servers', {
        server: {
          name: o.name,
          flavorRef: flavor.id,
          imageRef: image.id,
          key_name: o.name,
          networks: [{ uuid: ids.network }],
          security_groups: [{ name: o.name }],
          metadata: { 'capi-mgmt-env': tag },
          tags: [tag],
        },
      });
      ids.server = String((r.body.server as Json).id);
      await api.until(
        'server ACTIVE',
        async () => (await api.call('compute', 'GET', `/servers/${ids.server}`)).body.server,
        (s) => {
          if ((s as Json).status === 'ERROR') throw new Error('lower bound: the server went to ERROR');
          return (s as Json).status === 'ACTIVE';
        },
      );
    });
    if (block) {
      await timed('volume-attachment', C, async () => {
        await api.call('compute', 'POST', `/servers/${ids.server}/os-volume_attachments`, {
          volumeAttachment: { volumeId: ids.volume },
        });
        await api.until('volume in-use', volume, (v) => (v as Json | undefined)?.status === 'in-use');
      });
    }
    await timed('floating-ip', C, async () => {
      ids['floating-ip'] = await neutron('floatingips', 'floatingip', { floating_network_id: ext.id });
    });
    await timed('floating-ip-association', C, async () => {
      const ports = (await api.call('network', 'GET', `/ports?device_id=${ids.server}&network_id=${ids.network}`)).body
        .ports as Json[];
      const port = String(ports[0]!.id);
      await api.call('network', 'PUT', `/floatingips/${ids['floating-ip']}`, { floatingip: { port_id: port } });
      await api.until(
        'floating IP ACTIVE',
        async () => (await api.call('network', 'GET', `/floatingips/${ids['floating-ip']}`)).body.floatingip,
        (f) => (f as Json).status === 'ACTIVE' && (f as Json).port_id === port,
      );
    });
  } finally {
    await removeAll(api, ids, steps);
  }
  const create = steps.filter((s) => s.id in CREATE_AFTER && !s.id.startsWith('delete '));
  const del = steps.filter((s) => s.id.startsWith('delete ')).map((s) => ({ ...s, id: s.id.slice('delete '.length) }));
  const c = longestPath(create);
  const d = longestPath(del);
  return {
    createBusiest: busiest(create),
    deleteBusiest: busiest(del),
    createMs: c.ms,
    createPath: c.path,
    deleteMs: d.ms,
    deletePath: d.path,
    create,
    delete: del,
    requests: api.requests,
  };
}

/** Remove what was made, timing each step as `delete <id>` (only after a full create do the times count). */
async function removeAll(api: Raw, ids: Record<string, string>, steps: Step[]): Promise<void> {
  const timed = async (id: string, fn: () => Promise<void>) => {
    if (!ids[id]) return;
    const t = performance.now();
    await fn();
    steps.push({ id: `delete ${id}`, after: DELETE_AFTER[id]!, ms: performance.now() - t });
  };
  const gone = (service: string, path: string) => async () =>
    (await api.call(service, 'GET', path, undefined, [404])).status === 404;
  /** Neutron answers 409 while a deleted server's port lingers: that wait is part of the step. */
  const del = async (path: string) => {
    let done = false;
    await api.until(
      `DELETE ${path}`,
      async () => (done = (await api.call('network', 'DELETE', path, undefined, [404, 409])).status !== 409),
      () => done,
    );
  };
  await timed('floating-ip', () => del(`/floatingips/${ids['floating-ip']}`));
  await timed('server', async () => {
    await api.call('compute', 'DELETE', `/servers/${ids.server}`, undefined, [404]);
    await api.until('server gone', gone('compute', `/servers/${ids.server}`), (x) => x === true);
  });
  await timed('volume', async () => {
    const status = async () =>
      ((await api.call('volume', 'GET', `/volumes/${ids.volume}`, undefined, [404])).body.volume as Json | undefined)
        ?.status;
    await api.until('volume detached', status, (s) => s === undefined || s === 'available' || s === 'error');
    await api.call('volume', 'DELETE', `/volumes/${ids.volume}`, undefined, [404]);
    await api.until('volume gone', gone('volume', `/volumes/${ids.volume}`), (x) => x === true);
  });
  await timed('keypair', async () => {
    await api.call('compute', 'DELETE', `/os-keypairs/${ids.keypair}`, undefined, [404]);
  });
  await timed('router-interface', async () => {
    await api.call(
      'network',
      'PUT',
      `/routers/${ids.router}/remove_router_interface`,
      { subnet_id: ids.subnet },
      [404],
    );
  });
  await timed('router', () => del(`/routers/${ids.router}`));
  await timed('subnet', () => del(`/subnets/${ids.subnet}`));
  await timed('network', () => del(`/networks/${ids.network}`));
  await timed('security-group', () => del(`/security-groups/${ids['security-group']}`));
}

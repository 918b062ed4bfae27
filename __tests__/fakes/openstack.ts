/**
 * An in-memory OpenStack (Keystone, Nova, Neutron, Cinder, Glance) that sits
 * where the REST client's `Transport` would send HTTP. The real client runs
 * on top of it unchanged: its JSON mapping, retries, look-before-retry on
 * creates, microversions and re-login on 401. No sockets, no sleeping.
 *
 * It behaves like the real services where the tool depends on it:
 * - generated UUIDs; names are not unique except key pairs (409 on a second);
 * - 404 for what is gone, in each service's own error shape;
 * - Neutron's 409s (rule exists, network/subnet/router/group in use) and
 *   400s (router already has a port on the subnet), Nova's 400/409 for a
 *   busy volume or a building server, Cinder's 400 for deleting an attached volume;
 * - eventual status, counted in reads of the object: a server is BUILD for
 *   `settle.serverBuild` reads, then ACTIVE; a volume is creating, then
 *   available; attaching, then in-use; a deleted server lingers, and its
 *   port lingers a few Neutron requests more (so deletes see 409 first).
 *   `Infinity` means the status never arrives.
 * Answers are immediate unless `latencyMs` asks for a delay (to see which
 * requests overlap in time: each request records when it started and ended).
 * Faults are queued per method and path: a 503 before acting, a 500 after
 * acting, or an answer lost after the service acted (the ambiguous case).
 */
import { randomUUID } from 'node:crypto';
import { RestOpenStackClient } from '../../src/openstack/client.js';
import { parseCloud } from '../../src/openstack/cloud-config.js';
import type { SessionOptions } from '../../src/openstack/session.js';
import { Transport, TransportError, type HttpMethod, type HttpResponse } from '../../src/openstack/transport.js';

type Raw = Record<string, unknown>;

/** Reads (or, for lingering ports, Neutron requests) before a status settles. */
export interface Settle {
  serverBuild: number;
  serverDelete: number;
  volumeCreate: number;
  volumeAttach: number;
  volumeDetach: number;
  volumeExtend: number;
  volumeDelete: number;
  floatingIp: number;
  portLinger: number;
}

const DEFAULT_SETTLE: Settle = {
  serverBuild: 3,
  serverDelete: 2,
  volumeCreate: 2,
  volumeAttach: 2,
  volumeDetach: 2,
  volumeExtend: 2,
  volumeDelete: 2,
  floatingIp: 1,
  portLinger: 2,
};

/**
 * - `unavailable`: 503 without acting (a read or write that can simply be repeated);
 * - `error-after`: the service acts, then answers 500;
 * - `lost`: the service acts, then the connection drops before the answer;
 * - `refused`: the connection is refused (nothing was sent);
 * - `exists-first`: the same request already took effect once (an earlier
 *   attempt whose answer was lost, or another run), so this one meets what
 *   that made: Nova's 409 for a key pair, Neutron's 409 for a rule, ...
 */
type FaultKind = 'unavailable' | 'error-after' | 'lost' | 'refused' | 'exists-first';

export interface Fault {
  method: HttpMethod;
  /** Matched against the path after the service's version prefix, e.g. `/networks` or `/servers/<id>`. */
  path: RegExp;
  kind: FaultKind;
  /** How many matching requests fail (default 1; Infinity for a service that stays broken). */
  times?: number;
}

export interface Request {
  service: string;
  method: HttpMethod;
  path: string;
  status: number | 'lost' | 'refused';
  /** performance.now() when the request arrived and when it was answered (unset when no answer came). */
  startedAt: number;
  endedAt?: number;
}

interface Eventual {
  left: number;
  fire: () => void;
  /** Advanced by reads of the object (default) or by every request to a service. */
  service?: string;
}

class ApiError {
  constructor(
    readonly status: number,
    readonly body: Raw,
  ) {}
}

const HOSTS = {
  identity: 'https://keystone.fake.test',
  compute: 'https://nova.fake.test',
  network: 'https://neutron.fake.test',
  image: 'https://glance.fake.test',
  'block-storage': 'https://cinder.fake.test',
  'load-balancer': 'https://octavia.fake.test',
} as const;
type Service = keyof typeof HOSTS;

const PROJECT = 'b1f0c3a2d4e5466f8a9b0c1d2e3f4a5b';
const PASSWORD = 'fake-cloud-password';

/** clouds.yaml content for the fake (the password is a test value, not a secret). */
export const FAKE_CLOUDS_YAML = `clouds:
  fake:
    auth:
      auth_url: ${HOSTS.identity}/v3
      username: demo
      password: ${PASSWORD}
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`;

export interface FakeOpenStackOptions {
  settle?: Partial<Settle>;
  /** The catalog lists Cinder (default true). */
  blockStorage?: boolean;
  /** Nova's newest microversion (default 2.96). */
  novaMax?: string;
  /** The catalog lists Octavia (default false: most small clouds and the lab have none). */
  loadBalancer?: boolean;
  /** Every request takes this long before it acts (default 0: no timer at all). */
  latencyMs?: number;
}

/** The project's quotas (Nova, Cinder, Neutron and Octavia defaults); -1 is unlimited. */
export interface FakeQuotas {
  instances: number;
  cores: number;
  ramMb: number;
  volumes: number;
  gigabytes: number;
  floatingIps: number;
  loadBalancers: number;
}

export interface Inventory {
  securityGroups: number;
  networks: number;
  subnets: number;
  routers: number;
  ports: number;
  keypairs: number;
  volumes: number;
  servers: number;
  floatingIps: number;
}

export class FakeOpenStack {
  readonly settle: Settle;
  readonly requests: Request[] = [];
  private readonly faults: Array<Fault & { left: number }> = [];
  private readonly eventual = new Map<string, Eventual>();
  private readonly tokens = new Set<string>();
  private readonly blockStorage: boolean;
  private readonly novaMax: string;
  private readonly latencyMs: number;
  /** The next server to finish building goes to ERROR with this fault message. */
  nextServerFault?: string;

  readonly flavors: Raw[] = [];
  readonly images: Raw[] = [];
  readonly networks = new Map<string, Raw>();
  readonly subnets = new Map<string, Raw>();
  readonly ports = new Map<string, Raw>();
  readonly routers = new Map<string, Raw>();
  readonly securityGroups = new Map<string, Raw>();
  readonly rules = new Map<string, Raw>();
  readonly floatingIps = new Map<string, Raw>();
  readonly keypairs = new Map<string, Raw>();
  readonly servers = new Map<string, Raw>();
  readonly volumes = new Map<string, Raw>();
  /** Octavia load balancers of the project (only listed, never made here). */
  readonly loadBalancers: Raw[] = [];
  readonly quotas: FakeQuotas = {
    instances: 10,
    cores: 20,
    ramMb: 51200,
    volumes: 10,
    gigabytes: 1000,
    floatingIps: 50,
    loadBalancers: 10,
  };
  /** Neutron without the quota-details extension (answers 404 for `/quotas/<project>/details`). */
  noQuotaDetails = false;
  private readonly loadBalancer: boolean;
  private readonly nextHost = new Map<string, number>();

  constructor(o: FakeOpenStackOptions = {}) {
    this.settle = { ...DEFAULT_SETTLE, ...o.settle };
    this.blockStorage = o.blockStorage ?? true;
    this.novaMax = o.novaMax ?? '2.96';
    this.loadBalancer = o.loadBalancer ?? false;
    this.latencyMs = o.latencyMs ?? 0;
    this.flavors.push(
      { id: '1', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
      { id: '2', name: 'c1.large', vcpus: 2, ram: 8192, disk: 20 },
      { id: '3', name: 'm1.large', vcpus: 4, ram: 8192, disk: 80 },
    );
    this.images.push({ id: randomUUID(), name: 'ubuntu', status: 'active' });
    const ext = this.addNetwork({ name: 'public', 'router:external': true, description: '', tags: [] });
    this.addSubnet({ network_id: ext.id, name: 'public-subnet', cidr: '172.24.4.0/24', description: '', tags: [] });
  }

  /** A REST client over this cloud, as a layer would make one (fresh session, fresh login). */
  client(o: SessionOptions = {}): RestOpenStackClient {
    return new RestOpenStackClient(parseCloud(FAKE_CLOUDS_YAML, 'fake'), {
      random: () => 0.5,
      sleep: async () => {},
      ...o,
      transport: new FakeTransport(this),
    });
  }

  /** Where a session sends its requests to reach this cloud (for sessions made by production code). */
  transport(): Transport {
    return new FakeTransport(this);
  }

  fault(f: Fault): void {
    this.faults.push({ ...f, left: f.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Statuses that were never going to arrive (`Infinity`) arrive on the next read. */
  unstick(): void {
    for (const e of this.eventual.values()) if (!Number.isFinite(e.left)) e.left = 1;
  }

  /** Requests that change something (every method but GET; logins excluded). */
  writes(): Request[] {
    return this.requests.filter((r) => r.method !== 'GET' && r.service !== 'identity');
  }

  count(method: HttpMethod, path: RegExp): number {
    return this.requests.filter((r) => r.method === method && path.test(r.path)).length;
  }

  clearLog(): void {
    this.requests.length = 0;
  }

  /** Every token stops working (Keystone restarted, token revoked): the next request gets 401. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** What exists that is not part of the cloud's own furniture (flavors, image, public network). */
  inventory(): Inventory {
    const external = new Set([...this.networks.values()].filter((n) => n['router:external']).map((n) => n.id));
    return {
      securityGroups: this.securityGroups.size,
      networks: this.networks.size - external.size,
      subnets: [...this.subnets.values()].filter((s) => !external.has(s.network_id)).length,
      routers: this.routers.size,
      ports: [...this.ports.values()].filter((p) => p.device_owner !== 'network:router_gateway').length,
      keypairs: this.keypairs.size,
      volumes: this.volumes.size,
      servers: this.servers.size,
      floatingIps: this.floatingIps.size,
    };
  }

  // ------------------------------------------------------------------ dispatch

  /** One HTTP exchange, as the transport sees it. */
  async exchange(
    method: HttpMethod,
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<HttpResponse> {
    const u = new URL(url);
    const service = (Object.keys(HOSTS) as Service[]).find((s) => HOSTS[s] === u.origin);
    if (!service)
      throw new TransportError(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }), false, false);
    const path = stripPrefix(service, u.pathname);
    const log: Request = { service, method, path, status: 0, startedAt: performance.now() };
    this.requests.push(log);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    for (const e of [...this.eventual.entries()]) if (e[1].service === service) this.advance(e[0]);

    const fault = this.faults.find((f) => f.left > 0 && f.method === method && f.path.test(path));
    if (fault) fault.left--;
    if (fault?.kind === 'refused') {
      log.status = 'refused';
      throw new TransportError(
        Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        false,
        false,
      );
    }
    if (fault?.kind === 'unavailable') return this.answer(log, 503, { message: 'Service Unavailable' });

    let status: number;
    let out: unknown;
    let extra: Record<string, string> = {};
    try {
      if (service !== 'identity' && !this.tokens.has(headers['X-Auth-Token'] ?? '')) {
        throw new ApiError(401, {
          error: { code: 401, message: 'The request you have made requires authentication.' },
        });
      }
      const query = Object.fromEntries(u.searchParams.entries());
      const parsed = body === undefined ? undefined : (JSON.parse(body) as Raw);
      if (fault?.kind === 'exists-first') {
        try {
          this.route(service, method, path, query, parsed, headers);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
        }
      }
      const r = this.route(service, method, path, query, parsed, headers);
      status = r.status;
      out = r.body;
      extra = r.headers ?? {};
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      status = e.status;
      out = e.body;
    }
    if (fault?.kind === 'lost') {
      log.status = 'lost';
      throw new TransportError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true, false);
    }
    if (fault?.kind === 'error-after') return this.answer(log, 500, { message: 'Internal Server Error' });
    return this.answer(log, status, out, extra);
  }

  private answer(log: Request, status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
    log.status = status;
    log.endedAt = performance.now();
    return {
      status,
      headers: new Headers({ 'Content-Type': 'application/json', ...headers }),
      text: body === undefined ? '' : JSON.stringify(body),
    };
  }

  private route(
    service: Service,
    method: HttpMethod,
    path: string,
    q: Record<string, string>,
    body: Raw | undefined,
    headers: Record<string, string>,
  ): { status: number; body?: unknown; headers?: Record<string, string> } {
    const key = `${method} ${path}`;
    const m = (re: RegExp) => re.exec(key);
    let g: RegExpExecArray | null;
    switch (service) {
      case 'identity':
        if (key === 'POST /auth/tokens') return this.login(body);
        break;
      case 'compute':
        if (key === 'GET /') return ok({ version: { id: 'v2.1', version: this.novaMax, min_version: '2.1' } });
        if (key === 'GET /flavors/detail') return ok({ flavors: this.flavors });
        if (key === 'GET /limits') return ok({ limits: { absolute: this.computeLimits() } });
        if ((g = m(/^GET \/os-keypairs\/([^/]+)$/))) return ok({ keypair: this.keypair(decodeURIComponent(g[1]!)) });
        if (key === 'POST /os-keypairs') return this.createKeypair(body!);
        if ((g = m(/^DELETE \/os-keypairs\/([^/]+)$/))) {
          this.keypair(decodeURIComponent(g[1]!));
          this.keypairs.delete(decodeURIComponent(g[1]!));
          return { status: 202 };
        }
        if (key === 'GET /servers/detail') return ok({ servers: this.listServers(q) });
        if (key === 'POST /servers') return this.createServer(body!, headers);
        if ((g = m(/^GET \/servers\/([^/]+)$/))) return ok({ server: this.readServer(g[1]!) });
        if ((g = m(/^DELETE \/servers\/([^/]+)$/))) return this.deleteServer(g[1]!);
        if ((g = m(/^PUT \/servers\/([^/]+)\/tags$/))) {
          this.server(g[1]!).tags = [...((body!.tags as string[]) ?? [])];
          return ok({ tags: body!.tags });
        }
        if ((g = m(/^GET \/servers\/([^/]+)\/os-volume_attachments$/))) {
          this.server(g[1]!);
          return ok({ volumeAttachments: this.attachmentsOf(g[1]!) });
        }
        if ((g = m(/^POST \/servers\/([^/]+)\/os-volume_attachments$/))) return this.attach(g[1]!, body!);
        if ((g = m(/^DELETE \/servers\/([^/]+)\/os-volume_attachments\/([^/]+)$/))) return this.detach(g[1]!, g[2]!);
        break;
      case 'image':
        if (key === 'GET /images') return ok({ images: this.images.filter((i) => !q.name || i.name === q.name) });
        if ((g = m(/^GET \/images\/([^/]+)$/))) {
          const img = this.images.find((i) => i.id === decodeURIComponent(g![1]!));
          if (!img) throw new ApiError(404, { message: `No image found with ID ${g[1]}` });
          return ok(img);
        }
        break;
      case 'block-storage':
        if (key === 'GET /')
          return ok({ versions: [{ id: 'v3.0', version: '3.70', min_version: '3.0', status: 'CURRENT' }] });
        if (key === 'GET /volumes/detail') return ok({ volumes: this.listVolumes(q) });
        if (key === 'GET /limits') {
          const vols = [...this.volumes.values()];
          return ok({
            limits: {
              absolute: {
                maxTotalVolumes: this.quotas.volumes,
                totalVolumesUsed: vols.length,
                maxTotalVolumeGigabytes: this.quotas.gigabytes,
                totalGigabytesUsed: vols.reduce((n, v) => n + Number(v.size), 0),
              },
            },
          });
        }
        if (key === 'POST /volumes') return this.createVolume(body!);
        if ((g = m(/^GET \/volumes\/([^/]+)$/))) return ok({ volume: this.readVolume(g[1]!) });
        if ((g = m(/^POST \/volumes\/([^/]+)\/action$/))) return this.volumeAction(g[1]!, body!, headers);
        if ((g = m(/^DELETE \/volumes\/([^/]+)$/))) return this.deleteVolume(g[1]!);
        break;
      case 'network':
        if ((g = m(/^GET \/quotas\/([^/]+)(\/details)?$/))) return this.neutronQuota(g[1]!, g[2] !== undefined);
        return this.neutron(method, path, q, body);
      case 'load-balancer':
        if (key === `GET /v2/lbaas/quotas/${PROJECT}`)
          return ok({ quota: { load_balancer: this.quotas.loadBalancers } });
        if (key === 'GET /v2/lbaas/loadbalancers')
          return ok({
            loadbalancers: this.loadBalancers.filter((l) => !q.project_id || l.project_id === q.project_id),
          });
        break;
    }
    throw new ApiError(404, { message: `The resource could not be found: ${key}` });
  }

  // ------------------------------------------------------------------ eventual status

  private later(key: string, left: number, fire: () => void, service?: string): void {
    if (left <= 0) return fire();
    this.eventual.set(key, { left, fire, service });
  }

  private advance(key: string): void {
    const e = this.eventual.get(key);
    if (!e) return;
    if (--e.left <= 0) {
      this.eventual.delete(key);
      e.fire();
    }
  }

  // ------------------------------------------------------------------ keystone

  private login(body: Raw | undefined): { status: number; body: unknown; headers: Record<string, string> } {
    const password = (body as { auth?: { identity?: { password?: { user?: { password?: string } } } } })?.auth?.identity
      ?.password?.user?.password;
    if (password !== PASSWORD)
      throw new ApiError(401, { error: { code: 401, message: 'The request you have made requires authentication.' } });
    const token = randomUUID().replace(/-/g, '');
    this.tokens.add(token);
    const ep = (type: string, url: string) => ({
      type,
      endpoints: [{ interface: 'public', region_id: 'RegionOne', region: 'RegionOne', url }],
    });
    const catalog = [
      ep('identity', `${HOSTS.identity}/v3`),
      ep('compute', `${HOSTS.compute}/v2.1`),
      ep('network', HOSTS.network),
      ep('image', HOSTS.image),
    ];
    if (this.blockStorage) catalog.push(ep('block-storage', `${HOSTS['block-storage']}/v3/${PROJECT}`));
    if (this.loadBalancer) catalog.push(ep('load-balancer', HOSTS['load-balancer']));
    return {
      status: 201,
      headers: { 'X-Subject-Token': token },
      body: {
        token: { expires_at: new Date(Date.now() + 3600_000).toISOString(), project: { id: PROJECT }, catalog },
      },
    };
  }

  // ------------------------------------------------------------------ quotas

  private computeLimits(): Raw {
    const servers = [...this.servers.values()];
    // Servers embed their flavor's sizes (Nova >= 2.47).
    const flavorOf = (s: Raw) => (s.flavor ?? {}) as Raw;
    return {
      maxTotalInstances: this.quotas.instances,
      totalInstancesUsed: servers.length,
      maxTotalCores: this.quotas.cores,
      totalCoresUsed: servers.reduce((n, s) => n + Number(flavorOf(s).vcpus ?? 0), 0),
      maxTotalRAMSize: this.quotas.ramMb,
      totalRAMUsed: servers.reduce((n, s) => n + Number(flavorOf(s).ram ?? 0), 0),
    };
  }

  private neutronQuota(project: string, details: boolean): { status: number; body: unknown } {
    if (project !== PROJECT) throw neutronError(403, 'Forbidden', 'Not authorized.');
    if (!details) return ok({ quota: { floatingip: this.quotas.floatingIps } });
    if (this.noQuotaDetails) throw neutronError(404, 'HTTPNotFound', 'The resource could not be found.');
    return ok({ quota: { floatingip: { limit: this.quotas.floatingIps, used: this.floatingIps.size, reserved: 0 } } });
  }

  // ------------------------------------------------------------------ nova

  private keypair(name: string): Raw {
    const k = this.keypairs.get(name);
    if (!k) throw novaError(404, `Keypair ${name} not found for user demo`);
    return k;
  }

  private createKeypair(body: Raw): { status: number; body: unknown } {
    const k = body.keypair as Raw;
    const name = String(k.name);
    if (this.keypairs.has(name)) throw novaError(409, `Key pair '${name}' already exists.`);
    const key = String(k.public_key ?? '');
    if (!/^ssh-(ed25519|rsa) [A-Za-z0-9+/=]+/.test(key))
      throw novaError(400, 'Keypair data is invalid: failed to generate fingerprint');
    const kp = { name, public_key: key, fingerprint: `fp:${key.split(/\s+/)[1]!.slice(-16)}`, type: 'ssh' };
    this.keypairs.set(name, kp);
    return { status: 200, body: { keypair: kp } };
  }

  private server(id: string): Raw {
    const s = this.servers.get(id);
    if (!s) throw novaError(404, `Instance ${id} could not be found.`);
    return s;
  }

  private readServer(id: string): Raw {
    this.server(id);
    this.advance(`server:${id}`);
    // The read that completes a delete already sees it gone.
    return this.server(id);
  }

  private listServers(q: Record<string, string>): Raw[] {
    const re = q.name ? new RegExp(q.name) : undefined;
    const hits = [...this.servers.values()].filter((s) => !re || re.test(String(s.name)));
    for (const s of hits) this.advance(`server:${s.id}`);
    return hits.filter((s) => this.servers.has(String(s.id)));
  }

  private createServer(body: Raw, headers: Record<string, string>): { status: number; body: unknown } {
    const b = body.server as Raw;
    const flavor = this.flavors.find((f) => f.id === b.flavorRef);
    if (!flavor) throw novaError(400, `Flavor ${String(b.flavorRef)} could not be found.`);
    const image = this.images.find((i) => i.id === b.imageRef);
    if (!image) throw novaError(400, `Image ${String(b.imageRef)} could not be found.`);
    if (b.key_name !== undefined && !this.keypairs.has(String(b.key_name)))
      throw novaError(400, 'Invalid key_name provided.');
    const netId = String(((b.networks as Raw[] | undefined)?.[0] ?? {}).uuid ?? '');
    const net = this.networks.get(netId);
    if (!net) throw novaError(400, `Network ${netId} could not be found.`);
    const subnet = [...this.subnets.values()].find((s) => s.network_id === netId);
    if (!subnet) throw novaError(400, `Network ${netId} requires a subnet in order to boot instances on.`);
    const groups = ((b.security_groups as Raw[] | undefined) ?? []).map((ref) => {
      const sg = [...this.securityGroups.values()].find((x) => x.id === ref.name || x.name === ref.name);
      if (!sg) throw novaError(400, `Security group ${String(ref.name)} not found for project ${PROJECT}.`);
      return sg;
    });
    const tagsOnCreate = minor(headers['X-OpenStack-Nova-API-Version']) >= 52;
    if (b.tags !== undefined && !tagsOnCreate)
      throw novaError(
        400,
        "Invalid input for field/attribute server. Additional properties are not allowed ('tags' was unexpected)",
      );

    const id = randomUUID();
    const port = this.addPort({
      network_id: netId,
      device_id: id,
      device_owner: 'compute:nova',
      status: 'DOWN',
      security_groups: groups.map((x) => x.id),
      fixed_ips: [{ subnet_id: subnet.id, ip_address: this.allocate(subnet) }],
    });
    const server: Raw = {
      id,
      name: b.name,
      status: 'BUILD',
      tags: tagsOnCreate ? [...((b.tags as string[]) ?? [])] : [],
      metadata: { ...((b.metadata as Raw) ?? {}) },
      flavor: { original_name: flavor.name, vcpus: flavor.vcpus, ram: flavor.ram, disk: flavor.disk },
      image: { id: image.id },
      key_name: b.key_name ?? null,
      security_groups: groups.map((x) => ({ name: x.name })),
      addresses: {},
    };
    this.servers.set(id, server);
    this.later(`server:${id}`, this.settle.serverBuild, () => {
      if (this.nextServerFault !== undefined) {
        server.status = 'ERROR';
        server.fault = { code: 500, message: this.nextServerFault };
        this.nextServerFault = undefined;
        return;
      }
      server.status = 'ACTIVE';
      port.status = 'ACTIVE';
      const ip = (port.fixed_ips as Raw[])[0]!.ip_address;
      server.addresses = { [String(net.name)]: [{ addr: ip, version: 4, 'OS-EXT-IPS:type': 'fixed' }] };
    });
    return {
      status: 202,
      body: { server: { id, links: [], adminPass: 'not-used', security_groups: server.security_groups } },
    };
  }

  private deleteServer(id: string): { status: number } {
    const s = this.server(id);
    if (s['OS-EXT-STS:task_state'] === 'deleting') return { status: 204 };
    s['OS-EXT-STS:task_state'] = 'deleting';
    this.later(`server:${id}`, this.settle.serverDelete, () => {
      this.servers.delete(id);
      for (const v of this.volumes.values()) {
        if (v.attached_to === id) this.startDetach(v);
      }
      for (const p of [...this.ports.values()].filter((x) => x.device_id === id)) {
        // Neutron removes the port a little after Nova lets go of it.
        this.later(`port:${p.id}`, this.settle.portLinger, () => this.removePort(String(p.id)), 'network');
      }
    });
    return { status: 204 };
  }

  private attachmentsOf(serverId: string): Raw[] {
    return [...this.volumes.values()]
      .filter((v) => v.attached_to === serverId)
      .map((v) => ({ id: v.id, serverId, volumeId: v.id, device: '/dev/vdb' }));
  }

  private attach(serverId: string, body: Raw): { status: number; body: unknown } {
    const server = this.server(serverId);
    const volumeId = String((body.volumeAttachment as Raw).volumeId);
    const v = this.volumes.get(volumeId);
    if (!v) throw novaError(404, `Volume ${volumeId} could not be found.`);
    if (server.status !== 'ACTIVE' && server.status !== 'SHUTOFF') {
      throw novaError(
        409,
        `Cannot 'attach_volume' instance ${serverId} while it is in vm_state ${String(server.status).toLowerCase()}`,
      );
    }
    if (v.status !== 'available') {
      throw novaError(
        400,
        `Invalid volume: Volume ${volumeId} status must be available or downloading to reserve, but the current status is ${String(v.status)}.`,
      );
    }
    v.status = 'attaching';
    v.attached_to = serverId;
    this.later(`volume:${volumeId}`, this.settle.volumeAttach, () => {
      v.status = 'in-use';
      v.attachments = [{ server_id: serverId, attachment_id: randomUUID(), volume_id: volumeId, device: '/dev/vdb' }];
    });
    return { status: 200, body: { volumeAttachment: { id: volumeId, serverId, volumeId, device: '/dev/vdb' } } };
  }

  private detach(serverId: string, volumeId: string): { status: number } {
    this.server(serverId);
    const v = this.volumes.get(volumeId);
    if (!v || v.attached_to !== serverId) throw novaError(404, `volume_id not found: ${volumeId}`);
    if (v.status !== 'in-use') throw novaError(400, `Invalid volume: Volume ${volumeId} is ${String(v.status)}`);
    this.startDetach(v);
    return { status: 202 };
  }

  private startDetach(v: Raw): void {
    v.status = 'detaching';
    this.later(`volume:${v.id}`, this.settle.volumeDetach, () => {
      v.status = 'available';
      v.attachments = [];
      delete v.attached_to;
    });
  }

  // ------------------------------------------------------------------ cinder

  private volume(id: string): Raw {
    const v = this.volumes.get(id);
    if (!v) throw new ApiError(404, { itemNotFound: { code: 404, message: `Volume ${id} could not be found.` } });
    return v;
  }

  private readVolume(id: string): Raw {
    this.volume(id);
    this.advance(`volume:${id}`);
    return this.volume(id);
  }

  private listVolumes(q: Record<string, string>): Raw[] {
    const hits = [...this.volumes.values()].filter((v) => !q.name || v.name === q.name);
    for (const v of hits) this.advance(`volume:${v.id}`);
    return hits.filter((v) => this.volumes.has(String(v.id)));
  }

  private createVolume(body: Raw): { status: number; body: unknown } {
    const b = body.volume as Raw;
    const type = b.volume_type === undefined ? '__DEFAULT__' : String(b.volume_type);
    if (!['__DEFAULT__', 'lvm', 'ssd'].includes(type))
      throw cinderError(404, `Volume type with name ${type} could not be found.`);
    const size = Number(b.size);
    if (!Number.isInteger(size) || size < 1) throw cinderError(400, `Invalid input received: size ${String(b.size)}`);
    const id = randomUUID();
    const v: Raw = {
      id,
      name: b.name ?? '',
      description: b.description ?? '',
      status: 'creating',
      size,
      volume_type: type,
      metadata: { ...((b.metadata as Raw) ?? {}) },
      attachments: [],
    };
    this.volumes.set(id, v);
    this.later(`volume:${id}`, this.settle.volumeCreate, () => (v.status = 'available'));
    return { status: 202, body: { volume: { ...v } } };
  }

  private volumeAction(id: string, body: Raw, headers: Record<string, string>): { status: number } {
    const v = this.volume(id);
    const extend = body['os-extend'] as Raw | undefined;
    if (!extend) throw cinderError(400, 'Invalid request: unknown volume action');
    const size = Number(extend.new_size);
    if (size <= Number(v.size))
      throw cinderError(
        400,
        `Invalid input received: New size for extend must be greater than current size. (current: ${String(v.size)}, extended: ${size}).`,
      );
    const inUseOk = minor((headers['OpenStack-API-Version'] ?? '').replace(/^volume /, '')) >= 42;
    if (v.status !== 'available' && !(v.status === 'in-use' && inUseOk)) {
      throw cinderError(
        400,
        `Invalid volume: Volume status must be available to extend, but current status is: ${String(v.status)}.`,
      );
    }
    const was = v.status;
    v.status = 'extending';
    this.later(`volume:${id}`, this.settle.volumeExtend, () => {
      v.status = was;
      v.size = size;
    });
    return { status: 202 };
  }

  private deleteVolume(id: string): { status: number } {
    const v = this.volume(id);
    if (v.status === 'deleting') return { status: 202 };
    if (!['available', 'error', 'error_extending'].includes(String(v.status))) {
      throw cinderError(
        400,
        'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.',
      );
    }
    v.status = 'deleting';
    this.later(`volume:${id}`, this.settle.volumeDelete, () => this.volumes.delete(id));
    return { status: 202 };
  }

  // ------------------------------------------------------------------ neutron

  private neutron(
    method: HttpMethod,
    path: string,
    q: Record<string, string>,
    body: Raw | undefined,
  ): { status: number; body?: unknown } {
    const parts = path.split('/').filter(Boolean);
    const [collection, id, sub] = parts;
    const table = this.table(collection ?? '');
    const key = COLLECTION_KEYS[collection ?? ''];
    if (!table || !key) throw neutronError(404, 'HTTPNotFound', `The resource could not be found.`);

    if (method === 'GET' && !id) return ok({ [`${key}s`]: this.neutronList(collection!, table, q) });
    if (method === 'GET' && id && !sub) return ok({ [key]: this.neutronRead(collection!, this.get(table, key, id)) });
    if (method === 'PUT' && sub === 'tags') {
      this.get(table, key, id!).tags = [...((body!.tags as string[]) ?? [])];
      return ok({ tags: body!.tags });
    }
    if (method === 'DELETE' && id && !sub) return this.neutronDelete(collection!, id);
    if (method === 'POST' && !id)
      return { status: 201, body: { [key]: this.neutronCreate(collection!, body![key] as Raw) } };
    if (method === 'PUT' && id && collection === 'routers' && sub === 'add_router_interface')
      return ok(this.addInterface(id, body!));
    if (method === 'PUT' && id && collection === 'routers' && sub === 'remove_router_interface')
      return ok(this.removeInterface(id, body!));
    if (method === 'PUT' && id && !sub)
      return ok({ [key]: this.neutronRead(collection!, this.neutronUpdate(collection!, id, body![key] as Raw)) });
    throw neutronError(404, 'HTTPNotFound', 'The resource could not be found.');
  }

  private table(collection: string): Map<string, Raw> | undefined {
    return (
      {
        networks: this.networks,
        subnets: this.subnets,
        ports: this.ports,
        routers: this.routers,
        'security-groups': this.securityGroups,
        'security-group-rules': this.rules,
        floatingips: this.floatingIps,
      } as Record<string, Map<string, Raw>>
    )[collection];
  }

  private get(table: Map<string, Raw>, key: string, id: string): Raw {
    const x = table.get(id);
    if (!x)
      throw neutronError(
        404,
        `${pascal(key)}NotFound`,
        `${pascal(key).replace(/([a-z])([A-Z])/g, '$1 $2')} ${id} could not be found.`,
      );
    return x;
  }

  private neutronRead(collection: string, r: Raw): Raw {
    if (collection === 'security-groups') {
      return { ...r, security_group_rules: [...this.rules.values()].filter((x) => x.security_group_id === r.id) };
    }
    if (collection === 'floatingips') {
      this.advance(`fip:${r.id}`);
      return { ...this.floatingIps.get(String(r.id))! };
    }
    return { ...r };
  }

  private neutronList(collection: string, table: Map<string, Raw>, q: Record<string, string>): Raw[] {
    const filters = Object.entries(q).filter(([k]) => k !== 'limit' && k !== 'fields');
    return [...table.values()]
      .filter((r) => filters.every(([k, v]) => String(r[k]) === v))
      .map((r) => this.neutronRead(collection, r));
  }

  private neutronCreate(collection: string, b: Raw): Raw {
    const base = { name: b.name ?? '', description: b.description ?? '', tags: [] as string[] };
    switch (collection) {
      case 'security-groups': {
        const sg = { id: randomUUID(), ...base, project_id: PROJECT };
        this.securityGroups.set(sg.id, sg);
        // Like Neutron: a new group allows all egress, IPv4 and IPv6.
        for (const ethertype of ['IPv4', 'IPv6'])
          this.addRule({ security_group_id: sg.id, direction: 'egress', ethertype });
        return this.neutronRead(collection, sg);
      }
      case 'security-group-rules':
        return this.addRule(b);
      case 'networks':
        return this.addNetwork({ ...base, mtu: b.mtu ?? 1450 });
      case 'subnets':
        this.get(this.networks, 'network', String(b.network_id));
        return this.addSubnet({
          ...base,
          network_id: b.network_id,
          cidr: b.cidr,
          dns_nameservers: b.dns_nameservers ?? [],
        });
      case 'routers': {
        const r: Raw = { id: randomUUID(), ...base, external_gateway_info: null, status: 'ACTIVE' };
        this.routers.set(String(r.id), r);
        const gw = b.external_gateway_info as Raw | undefined;
        if (gw) this.setGateway(r, String(gw.network_id));
        return { ...r };
      }
      case 'floatingips': {
        const net = this.get(this.networks, 'network', String(b.floating_network_id));
        if (!net['router:external'])
          throw neutronError(
            400,
            'BadRequest',
            `Bad floatingip request: Network ${String(net.id)} is not a valid external network.`,
          );
        const subnet = [...this.subnets.values()].find((s) => s.network_id === net.id)!;
        const f: Raw = {
          id: randomUUID(),
          floating_ip_address: this.allocate(subnet),
          floating_network_id: net.id,
          description: b.description ?? '',
          tags: [],
          port_id: null,
          fixed_ip_address: null,
          router_id: null,
          status: 'DOWN',
        };
        this.floatingIps.set(String(f.id), f);
        return { ...f };
      }
    }
    throw neutronError(400, 'BadRequest', `cannot create ${collection}`);
  }

  private neutronUpdate(collection: string, id: string, b: Raw): Raw {
    const key = COLLECTION_KEYS[collection]!;
    const r = this.get(this.table(collection)!, key, id);
    if (collection === 'networks' && b.mtu !== undefined) r.mtu = b.mtu;
    else if (collection === 'subnets' && b.dns_nameservers !== undefined)
      r.dns_nameservers = [...(b.dns_nameservers as string[])];
    else if (collection === 'routers' && b.external_gateway_info !== undefined) {
      this.setGateway(r, String((b.external_gateway_info as Raw).network_id));
    } else if (collection === 'floatingips' && 'port_id' in b) this.associate(r, b.port_id as string | null);
    else
      throw neutronError(400, 'BadRequest', `the fake does not update ${collection} with ${Object.keys(b).join(', ')}`);
    return r;
  }

  private neutronDelete(collection: string, id: string): { status: number } {
    const key = COLLECTION_KEYS[collection]!;
    const r = this.get(this.table(collection)!, key, id);
    const ports = [...this.ports.values()];
    switch (collection) {
      case 'security-groups':
        if (ports.some((p) => (p.security_groups as string[] | undefined)?.includes(id)))
          throw neutronError(409, 'SecurityGroupInUse', `Security Group ${id} in use.`);
        for (const rule of [...this.rules.values()])
          if (rule.security_group_id === id) this.rules.delete(String(rule.id));
        break;
      case 'networks':
        if (ports.some((p) => p.network_id === id && p.device_owner !== 'network:dhcp'))
          throw neutronError(
            409,
            'NetworkInUse',
            `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`,
          );
        for (const s of [...this.subnets.values()]) if (s.network_id === id) this.subnets.delete(String(s.id));
        break;
      case 'subnets':
        if (ports.some((p) => (p.fixed_ips as Raw[]).some((f) => f.subnet_id === id)))
          throw neutronError(
            409,
            'SubnetInUse',
            `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`,
          );
        break;
      case 'routers':
        if (ports.some((p) => p.device_id === id && p.device_owner === 'network:router_interface'))
          throw neutronError(409, 'RouterInUse', `Router ${id} still has ports`);
        for (const p of ports) if (p.device_id === id) this.ports.delete(String(p.id));
        break;
      case 'floatingips':
        break;
      default:
        void r;
    }
    this.table(collection)!.delete(id);
    return { status: 204 };
  }

  private addNetwork(b: Raw): Raw {
    const n: Raw = { id: randomUUID(), 'router:external': false, status: 'ACTIVE', mtu: 1500, ...b };
    this.networks.set(String(n.id), n);
    return { ...n };
  }

  private addSubnet(b: Raw): Raw {
    const cidr = String(b.cidr);
    const s: Raw = { id: randomUUID(), ip_version: 4, dns_nameservers: [], gateway_ip: hostOf(cidr, 1), ...b };
    this.subnets.set(String(s.id), s);
    return { ...s };
  }

  private addPort(b: Raw): Raw {
    const p: Raw = { id: randomUUID(), security_groups: [], ...b };
    this.ports.set(String(p.id), p);
    return p;
  }

  private removePort(id: string): void {
    this.ports.delete(id);
    for (const f of this.floatingIps.values()) {
      if (f.port_id === id)
        Object.assign(f, { port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' });
    }
  }

  private allocate(subnet: Raw): string {
    const n = (this.nextHost.get(String(subnet.id)) ?? 9) + 1;
    this.nextHost.set(String(subnet.id), n);
    return hostOf(String(subnet.cidr), n);
  }

  private addRule(b: Raw): Raw {
    this.get(this.securityGroups, 'security_group', String(b.security_group_id));
    const rule: Raw = {
      id: randomUUID(),
      security_group_id: b.security_group_id,
      direction: b.direction,
      ethertype: b.ethertype ?? 'IPv4',
      protocol: b.protocol ?? null,
      port_range_min: b.port_range_min ?? null,
      port_range_max: b.port_range_max ?? null,
      remote_ip_prefix: b.remote_ip_prefix ?? null,
    };
    const same = [...this.rules.values()].find(
      (x) => x.security_group_id === rule.security_group_id && ruleIdentity(x) === ruleIdentity(rule),
    );
    if (same)
      throw neutronError(
        409,
        'SecurityGroupRuleExists',
        `Security group rule already exists. Rule id is ${String(same.id)}.`,
      );
    this.rules.set(String(rule.id), rule);
    return { ...rule };
  }

  private setGateway(router: Raw, networkId: string): void {
    const net = this.get(this.networks, 'network', networkId);
    if (!net['router:external'])
      throw neutronError(400, 'BadRequest', `Bad router request: Network ${networkId} is not an external network.`);
    for (const p of [...this.ports.values()]) {
      if (p.device_id === router.id && p.device_owner === 'network:router_gateway') this.ports.delete(String(p.id));
    }
    const subnet = [...this.subnets.values()].find((s) => s.network_id === networkId)!;
    this.addPort({
      network_id: networkId,
      device_id: router.id,
      device_owner: 'network:router_gateway',
      status: 'ACTIVE',
      fixed_ips: [{ subnet_id: subnet.id, ip_address: this.allocate(subnet) }],
    });
    router.external_gateway_info = { network_id: networkId };
  }

  private addInterface(routerId: string, b: Raw): Raw {
    const router = this.get(this.routers, 'router', routerId);
    const subnet = this.get(this.subnets, 'subnet', String(b.subnet_id));
    const has = [...this.ports.values()].some(
      (p) => p.device_id === routerId && (p.fixed_ips as Raw[]).some((f) => f.subnet_id === subnet.id),
    );
    if (has)
      throw neutronError(
        400,
        'BadRequest',
        `Bad router request: Router already has a port on subnet ${String(subnet.id)}.`,
      );
    const port = this.addPort({
      network_id: subnet.network_id,
      device_id: router.id,
      device_owner: 'network:router_interface',
      status: 'ACTIVE',
      fixed_ips: [{ subnet_id: subnet.id, ip_address: subnet.gateway_ip }],
    });
    return {
      id: router.id,
      subnet_id: subnet.id,
      subnet_ids: [subnet.id],
      port_id: port.id,
      network_id: subnet.network_id,
    };
  }

  private removeInterface(routerId: string, b: Raw): Raw {
    this.get(this.routers, 'router', routerId);
    const port = [...this.ports.values()].find(
      (p) =>
        p.device_id === routerId &&
        p.device_owner === 'network:router_interface' &&
        (p.fixed_ips as Raw[]).some((f) => f.subnet_id === b.subnet_id),
    );
    if (!port)
      throw neutronError(
        404,
        'RouterInterfaceNotFoundForSubnet',
        `Router ${routerId} has no interface on subnet ${String(b.subnet_id)}`,
      );
    const inUse = [...this.floatingIps.values()].find((f) => f.router_id === routerId && f.port_id !== null);
    if (inUse)
      throw neutronError(
        409,
        'RouterInterfaceInUseByFloatingIP',
        `Router interface for subnet ${String(b.subnet_id)} on router ${routerId} cannot be deleted, as it is required by one or more floating IPs.`,
      );
    this.ports.delete(String(port.id));
    return { id: routerId, subnet_id: b.subnet_id, port_id: port.id };
  }

  private associate(f: Raw, portId: string | null): void {
    if (portId === null) {
      Object.assign(f, { port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' });
      this.eventual.delete(`fip:${f.id}`);
      return;
    }
    const port = this.get(this.ports, 'port', portId);
    const subnetId = (port.fixed_ips as Raw[])[0]?.subnet_id;
    // Reachable only through a router with a gateway on the floating network and an interface on the port's subnet.
    const router = [...this.routers.values()].find(
      (r) =>
        (r.external_gateway_info as Raw | null)?.network_id === f.floating_network_id &&
        [...this.ports.values()].some(
          (p) =>
            p.device_id === r.id &&
            p.device_owner === 'network:router_interface' &&
            (p.fixed_ips as Raw[]).some((x) => x.subnet_id === subnetId),
        ),
    );
    if (!router) {
      throw neutronError(
        404,
        'ExternalGatewayForFloatingIPNotFound',
        `External network ${String(f.floating_network_id)} is not reachable from subnet ${String(subnetId)}.  Therefore, cannot associate Port ${portId} with a Floating IP.`,
      );
    }
    Object.assign(f, {
      port_id: portId,
      fixed_ip_address: (port.fixed_ips as Raw[])[0]!.ip_address,
      router_id: router.id,
      status: 'DOWN',
    });
    this.later(`fip:${f.id}`, this.settle.floatingIp, () => (f.status = 'ACTIVE'));
  }
}

/** The transport the REST client is given: every request goes to the fake cloud. */
class FakeTransport extends Transport {
  constructor(private readonly cloud: FakeOpenStack) {
    super({ timeoutMs: 1000 });
  }
  override send(
    _service: string,
    method: HttpMethod,
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<HttpResponse> {
    return this.cloud.exchange(method, url, headers, body);
  }
}

const COLLECTION_KEYS: Record<string, string> = {
  networks: 'network',
  subnets: 'subnet',
  ports: 'port',
  routers: 'router',
  'security-groups': 'security_group',
  'security-group-rules': 'security_group_rule',
  floatingips: 'floatingip',
};

const ok = (body: unknown) => ({ status: 200, body });

function stripPrefix(service: Service, p: string): string {
  const prefix = {
    identity: '/v3',
    compute: '/v2.1',
    network: '/v2.0',
    image: '/v2',
    'block-storage': '/v3',
    'load-balancer': '',
  }[service];
  let rest = p.startsWith(prefix) ? p.slice(prefix.length) : p;
  if (service === 'block-storage' && rest.startsWith(`/${PROJECT}`)) rest = rest.slice(PROJECT.length + 1);
  return rest === '' ? '/' : rest;
}

function novaError(status: number, message: string): ApiError {
  const key = { 400: 'badRequest', 404: 'itemNotFound', 409: 'conflictingRequest' }[status] ?? 'computeFault';
  return new ApiError(status, { [key]: { code: status, message } });
}

function cinderError(status: number, message: string): ApiError {
  return new ApiError(status, { [status === 404 ? 'itemNotFound' : 'badRequest']: { code: status, message } });
}

function neutronError(status: number, type: string, message: string): ApiError {
  return new ApiError(status, { NeutronError: { type, message, detail: '' } });
}

const pascal = (key: string) => key.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());

/** The minor part of a "2.52" style microversion header (0 when absent). */
function minor(v: string | undefined): number {
  const m = /^\d+\.(\d+)$/.exec((v ?? '').trim());
  return m ? Number(m[1]) : 0;
}

/** Host number `n` of an IPv4 /24-or-larger CIDR (enough for the fake's small subnets). */
function hostOf(cidr: string, n: number): string {
  const [base] = cidr.split('/');
  const o = base!.split('.').map(Number);
  const v = ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) + n;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function ruleIdentity(r: Raw): string {
  const any = r.remote_ip_prefix === null || r.remote_ip_prefix === '0.0.0.0/0' || r.remote_ip_prefix === '::/0';
  return [
    r.direction,
    r.ethertype,
    r.protocol ?? 'any',
    r.port_range_min ?? '',
    r.port_range_max ?? '',
    any ? 'any' : r.remote_ip_prefix,
  ].join('|');
}

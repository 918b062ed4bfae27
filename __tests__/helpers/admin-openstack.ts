/**
 * The lab OpenStack as an independent admin sees it: plain `fetch` with the
 * lab's admin password, written without src/openstack, so the end-to-end
 * tests neither make drift nor look for leftovers through the code they
 * test. It lists, across every project, what carries an environment's tag,
 * marker or names (lock markers included), and deletes single resources to
 * make drift.
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import { labCloudsPath, labFile } from './lab-parts.js';

interface AdminCloud {
  authUrl: string;
  username: string;
  password: string;
  project: string;
  userDomain: string;
  projectDomain: string;
}

type Json = Record<string, unknown>;
type Service = 'compute' | 'network' | 'volume' | 'identity';
const CATALOG_TYPES: Record<Service, string[]> = {
  compute: ['compute'],
  network: ['network'],
  volume: ['block-storage', 'volumev3', 'volume'],
  identity: ['identity'],
};

function adminCloud(): AdminCloud {
  const file = labFile('openstack', labCloudsPath());
  const doc = parse(fs.readFileSync(file, 'utf8')) as { clouds?: Record<string, { auth?: Record<string, string> }> };
  const a = doc.clouds?.['lab-admin']?.auth;
  if (!a?.auth_url || !a.username || a.password === undefined)
    throw new Error(`${file}: expected a cloud "lab-admin" with auth_url, username and password`);
  return {
    authUrl: a.auth_url.replace(/\/$/, ''),
    username: a.username,
    password: String(a.password),
    project: a.project_name ?? 'admin',
    userDomain: a.user_domain_name ?? 'Default',
    projectDomain: a.project_domain_name ?? 'Default',
  };
}

/** Everything the lab holds of one environment, by kind: names (or ids) of what is left. */
export interface Leftovers {
  servers: string[];
  ports: string[];
  floatingIps: string[];
  securityGroups: string[];
  networks: string[];
  subnets: string[];
  routers: string[];
  volumes: string[];
  keypairs: string[];
  lockMarkers: string[];
}

export interface EnvironmentNames {
  /** `capi-mgmt:<env>` */
  tag: string;
  /** `capi-mgmt-<env>-seed`: every seed resource is named after it. */
  seedName: string;
  /** `capi-mgmt-<env>-lock`: the lock marker's security group. */
  lockName: string;
}

export const countsOf = (l: Leftovers): Record<keyof Leftovers, number> =>
  Object.fromEntries(Object.entries(l).map(([k, v]) => [k, (v as string[]).length])) as Record<keyof Leftovers, number>;

export class AdminOpenStack {
  private token?: { value: string; endpoints: Map<Service, string> };

  private async login(): Promise<{ value: string; endpoints: Map<Service, string> }> {
    if (this.token) return this.token;
    const c = adminCloud();
    const r = await fetch(`${c.authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: c.username, domain: { name: c.userDomain }, password: c.password } },
          },
          scope: { project: { name: c.project, domain: { name: c.projectDomain } } },
        },
      }),
    });
    if (r.status !== 201) throw new Error(`admin login at ${c.authUrl} answered HTTP ${r.status}`);
    const body = (await r.json()) as {
      token: { catalog: Array<{ type: string; endpoints: Array<{ interface: string; url: string }> }> };
    };
    const endpoints = new Map<Service, string>();
    for (const [service, types] of Object.entries(CATALOG_TYPES) as Array<[Service, string[]]>) {
      const entry = types.map((t) => body.token.catalog.find((e) => e.type === t)).find(Boolean);
      const url = entry?.endpoints.find((e) => e.interface === 'public')?.url;
      if (url) endpoints.set(service, url.replace(/\/$/, ''));
    }
    this.token = { value: r.headers.get('x-subject-token')!, endpoints };
    return this.token;
  }

  /** One API call; `path` is relative to the service's catalog URL (Neutron's with its /v2.0). */
  async call(service: Service, method: string, path: string, headers: Record<string, string> = {}): Promise<Json> {
    const t = await this.login();
    let base = t.endpoints.get(service);
    if (!base) throw new Error(`the lab catalog has no ${service} endpoint`);
    if (service === 'network' && !/\/v2\.0$/.test(base)) base += '/v2.0';
    const r = await fetch(`${base}${path}`, { method, headers: { 'x-auth-token': t.value, ...headers } });
    if (method === 'DELETE' && (r.status === 204 || r.status === 202)) return {};
    if (!r.ok) throw new Error(`admin ${method} ${service} ${path} answered HTTP ${r.status}: ${await r.text()}`);
    return (await r.json()) as Json;
  }

  private async list<T>(service: Service, path: string, key: string, headers?: Record<string, string>): Promise<T[]> {
    return (await this.call(service, 'GET', path, headers))[key] as T[];
  }

  /** What is left of an environment anywhere in the cloud. Volumes being deleted still count. */
  async leftovers(n: EnvironmentNames): Promise<Leftovers> {
    const marker = `managed by capi-mgmt (${n.tag})`;
    type Neutron = { id: string; name: string; tags?: string[]; description?: string };
    const ours = (x: Neutron): boolean =>
      x.name === n.seedName || !!x.tags?.includes(n.tag) || x.description === marker;
    const neutron = async (collection: string, key: string): Promise<Neutron[]> =>
      (await this.list<Neutron>('network', `/${collection}`, key)).filter(ours);

    const networks = await neutron('networks', 'networks');
    const fips = (await this.list<Neutron & { floating_ip_address: string }>('network', '/floatingips', 'floatingips'))
      .filter(ours)
      .map((f) => ({ ...f, name: f.floating_ip_address }));
    type Server = { id: string; name: string; tags?: string[]; metadata?: Record<string, string> };
    const servers = (
      await this.list<Server>('compute', '/servers/detail?all_tenants=1', 'servers', {
        'OpenStack-API-Version': 'compute 2.60',
      })
    ).filter((s) => s.name === n.seedName || !!s.tags?.includes(n.tag) || s.metadata?.['capi-mgmt-env'] === n.tag);
    // Ports on the seed's networks, of its server, or of its floating IPs.
    const owners = new Set([...servers, ...fips].map((x) => x.id));
    const nets = new Set(networks.map((x) => x.id));
    type Port = { id: string; name: string; network_id: string; device_id: string; device_owner: string };
    const ports = (await this.list<Port>('network', '/ports', 'ports')).filter(
      (p) => nets.has(p.network_id) || owners.has(p.device_id) || p.name.includes(n.seedName),
    );
    const groups = await this.list<Neutron>('network', '/security-groups', 'security_groups');
    type Volume = { id: string; name: string; status: string; metadata?: Record<string, string> };
    const volumes = (await this.list<Volume>('volume', '/volumes/detail?all_tenants=1', 'volumes')).filter(
      (v) => v.name === `${n.seedName}-data` || v.metadata?.['capi-mgmt-env'] === n.tag,
    );
    return {
      servers: servers.map((s) => s.name),
      ports: ports.map((p) => `${p.device_owner || 'unbound'} ${p.id}`),
      floatingIps: fips.map((f) => f.name),
      securityGroups: groups.filter((g) => g.name !== n.lockName && ours(g)).map((g) => g.name),
      networks: networks.map((x) => x.name),
      subnets: (await neutron('subnets', 'subnets')).map((x) => x.name),
      routers: (await neutron('routers', 'routers')).map((x) => x.name),
      volumes: volumes.map((v) => `${v.name} (${v.status})`),
      keypairs: await this.keypairs(n.seedName),
      lockMarkers: groups.filter((g) => g.name === n.lockName).map((g) => `${g.name}: ${g.description ?? ''}`),
    };
  }

  /** Keypairs belong to users, not projects: ask for every user's. */
  private async keypairs(name: string): Promise<string[]> {
    const users = await this.list<{ id: string; name: string }>('identity', '/users', 'users');
    const found: string[] = [];
    for (const u of users) {
      const kps = await this.list<{ keypair: { name: string } }>(
        'compute',
        `/os-keypairs?user_id=${u.id}`,
        'keypairs',
        {
          'OpenStack-API-Version': 'compute 2.10',
        },
      );
      for (const k of kps) if (k.keypair.name === name) found.push(`${k.keypair.name} (user ${u.name})`);
    }
    return found;
  }

  /** The environment's security group (the seed's), with its rules. */
  async securityGroup(n: EnvironmentNames): Promise<{ id: string; rules: SecurityGroupRule[] }> {
    const groups = await this.list<{ id: string; name: string; security_group_rules: SecurityGroupRule[] }>(
      'network',
      `/security-groups?name=${encodeURIComponent(n.seedName)}`,
      'security_groups',
    );
    if (groups.length !== 1) throw new Error(`expected one security group ${n.seedName}, found ${groups.length}`);
    return { id: groups[0]!.id, rules: groups[0]!.security_group_rules };
  }

  async deleteSecurityGroupRule(id: string): Promise<void> {
    await this.call('network', 'DELETE', `/security-group-rules/${id}`);
  }

  /** The environment's floating IPs (tagged). */
  async floatingIps(n: EnvironmentNames): Promise<Array<{ id: string; address: string }>> {
    const all = await this.list<{ id: string; floating_ip_address: string; tags?: string[] }>(
      'network',
      '/floatingips',
      'floatingips',
    );
    return all.filter((f) => f.tags?.includes(n.tag)).map((f) => ({ id: f.id, address: f.floating_ip_address }));
  }

  async deleteFloatingIp(id: string): Promise<void> {
    await this.call('network', 'DELETE', `/floatingips/${id}`);
  }
}

export interface SecurityGroupRule {
  id: string;
  direction: string;
  ethertype: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
}

export const NOTHING_LEFT: Leftovers = {
  servers: [],
  ports: [],
  floatingIps: [],
  securityGroups: [],
  networks: [],
  subnets: [],
  routers: [],
  volumes: [],
  keypairs: [],
  lockMarkers: [],
};

/** The leftovers, re-listed for up to `ms` while what is left is only on its way out (volumes `deleting`). */
export async function settledLeftovers(admin: AdminOpenStack, n: EnvironmentNames, ms = 30_000): Promise<Leftovers> {
  const until = Date.now() + ms;
  for (;;) {
    const l = await admin.leftovers(n);
    const rest = { ...l, volumes: l.volumes.filter((v) => !v.endsWith('(deleting)')) };
    const onlyDeleting = Object.values(rest).every((v) => v.length === 0) && l.volumes.length > 0;
    if (!onlyDeleting || Date.now() > until) return l;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

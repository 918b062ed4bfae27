/**
 * Neutron (network v2.0). Owned resources are created with a description
 * marker first and tagged right after (Zed has no tags-on-create), so a
 * create whose answer was lost, or a crash between the two calls, still
 * leaves something a later run recognises as its own.
 */
import { OpenStackApiError } from './errors.js';
import type { Reply, Session } from './session.js';
import type {
  FloatingIp,
  Marked,
  Network,
  NeutronCollection,
  Port,
  QuotaUsage,
  Router,
  RuleSpec,
  SecurityGroup,
  SecurityGroupRule,
  Subnet,
} from './types.js';

type Raw = Record<string, unknown>;
const s = (v: unknown): string => (typeof v === 'string' ? v : '');
const tagsOf = (r: Raw): string[] => (Array.isArray(r.tags) ? (r.tags as string[]) : []);
const owned = (r: Raw) => ({ id: s(r.id), name: s(r.name), description: s(r.description), tags: tagsOf(r) });

const toRule = (r: Raw): SecurityGroupRule => ({
  id: s(r.id),
  direction: r.direction === 'egress' ? 'egress' : 'ingress',
  ethertype: r.ethertype === 'IPv6' ? 'IPv6' : 'IPv4',
  protocol: typeof r.protocol === 'string' ? r.protocol : null,
  portRangeMin: typeof r.port_range_min === 'number' ? r.port_range_min : null,
  portRangeMax: typeof r.port_range_max === 'number' ? r.port_range_max : null,
  remoteIpPrefix: typeof r.remote_ip_prefix === 'string' ? r.remote_ip_prefix : null,
});
const toSecurityGroup = (r: Raw): SecurityGroup => ({
  ...owned(r),
  rules: Array.isArray(r.security_group_rules) ? (r.security_group_rules as Raw[]).map(toRule) : [],
});
const toNetwork = (r: Raw): Network => ({
  ...owned(r),
  external: r['router:external'] === true,
  mtu: typeof r.mtu === 'number' ? r.mtu : undefined,
  status: s(r.status),
});
const toSubnet = (r: Raw): Subnet => ({
  ...owned(r),
  networkId: s(r.network_id),
  cidr: s(r.cidr),
  dnsNameservers: Array.isArray(r.dns_nameservers) ? (r.dns_nameservers as string[]) : [],
  gatewayIp: typeof r.gateway_ip === 'string' ? r.gateway_ip : null,
});
const toRouter = (r: Raw): Router => ({
  ...owned(r),
  externalNetworkId: s((r.external_gateway_info as Raw | null)?.network_id) || null,
});
const toPort = (r: Raw): Port => ({
  id: s(r.id),
  networkId: s(r.network_id),
  deviceId: s(r.device_id),
  deviceOwner: s(r.device_owner),
  status: s(r.status),
  fixedIps: Array.isArray(r.fixed_ips)
    ? (r.fixed_ips as Raw[]).map((f) => ({ subnetId: s(f.subnet_id), ipAddress: s(f.ip_address) }))
    : [],
});
const toFloatingIp = (r: Raw): FloatingIp => ({
  id: s(r.id),
  address: s(r.floating_ip_address),
  description: s(r.description),
  tags: tagsOf(r),
  floatingNetworkId: s(r.floating_network_id),
  portId: s(r.port_id) || null,
  fixedIpAddress: s(r.fixed_ip_address) || null,
  status: s(r.status),
});

const ruleKey = (r: RuleSpec): string =>
  [
    r.direction,
    r.ethertype,
    r.protocol ?? 'any',
    r.portRangeMin ?? '',
    r.portRangeMax ?? '',
    r.remoteIpPrefix ?? '',
  ].join('|');

export class NeutronApi {
  constructor(private readonly session: Session) {}

  private async list(
    collection: string,
    key: string,
    query: Record<string, string | boolean | undefined>,
  ): Promise<Raw[]> {
    const r = await this.session.request('network', 'GET', `/${collection}`, { query });
    return (r.body?.[key] ?? []) as Raw[];
  }

  private async del(collection: string, id: string): Promise<void> {
    await this.session.request('network', 'DELETE', `/${collection}/${id}`, { accept: [404] });
  }

  /** POST with the marker, find-by-name-and-marker on an ambiguous failure, then tag. */
  private async createOwned(collection: NeutronCollection, key: string, body: Raw, spec: Marked): Promise<Raw> {
    const lookup = async (): Promise<Reply | undefined> => {
      const found = (await this.list(collection, `${key}s`, { name: spec.name })).find(
        (r) => r.description === spec.description,
      );
      return found ? { status: 201, body: { [key]: found } } : undefined;
    };
    const reply = await this.session.request('network', 'POST', `/${collection}`, {
      body: { [key]: { name: spec.name, description: spec.description, ...body } },
      lookup,
    });
    const raw = reply.body[key] as Raw;
    await this.setTags(collection, s(raw.id), spec.tags);
    return { ...raw, tags: spec.tags };
  }

  async setTags(collection: NeutronCollection, id: string, tags: string[]): Promise<void> {
    await this.session.request('network', 'PUT', `/${collection}/${id}/tags`, { body: { tags } });
  }

  // --- security groups ---
  async listSecurityGroups(f: { name: string }): Promise<SecurityGroup[]> {
    return (await this.list('security-groups', 'security_groups', { name: f.name })).map(toSecurityGroup);
  }
  async createSecurityGroup(spec: Marked): Promise<SecurityGroup> {
    return toSecurityGroup(await this.createOwned('security-groups', 'security_group', {}, spec));
  }
  deleteSecurityGroup(id: string): Promise<void> {
    return this.del('security-groups', id);
  }

  async createSecurityGroupRule(groupId: string, rule: RuleSpec): Promise<SecurityGroupRule> {
    const find = async (): Promise<Reply | undefined> => {
      const rules = await this.list('security-group-rules', 'security_group_rules', { security_group_id: groupId });
      const hit = rules.find((r) => ruleKey(toRule(r)) === ruleKey(rule));
      return hit ? { status: 201, body: { security_group_rule: hit } } : undefined;
    };
    const reply = await this.session.request('network', 'POST', '/security-group-rules', {
      body: {
        security_group_rule: {
          security_group_id: groupId,
          direction: rule.direction,
          ethertype: rule.ethertype,
          protocol: rule.protocol,
          port_range_min: rule.portRangeMin,
          port_range_max: rule.portRangeMax,
          remote_ip_prefix: rule.remoteIpPrefix,
        },
      },
      lookup: find,
      accept: [409],
    });
    if (reply.status === 409) {
      // SecurityGroupRuleExists: an earlier attempt (or a person) made it.
      const existing = await find();
      if (!existing) throw new Error(`network: rule ${ruleKey(rule)} reported as existing but not found`);
      return toRule(existing.body.security_group_rule as Raw);
    }
    return toRule(reply.body.security_group_rule as Raw);
  }
  deleteSecurityGroupRule(id: string): Promise<void> {
    return this.del('security-group-rules', id);
  }

  // --- networks, subnets ---
  async listNetworks(f: { name?: string; id?: string; external?: boolean }): Promise<Network[]> {
    return (await this.list('networks', 'networks', { name: f.name, id: f.id, 'router:external': f.external })).map(
      toNetwork,
    );
  }
  async createNetwork(spec: Marked & { mtu?: number }): Promise<Network> {
    return toNetwork(await this.createOwned('networks', 'network', spec.mtu ? { mtu: spec.mtu } : {}, spec));
  }
  async updateNetwork(id: string, patch: { mtu?: number }): Promise<Network> {
    const r = await this.session.request('network', 'PUT', `/networks/${id}`, { body: { network: patch } });
    return toNetwork(r.body.network as Raw);
  }
  deleteNetwork(id: string): Promise<void> {
    return this.del('networks', id);
  }

  async listSubnets(f: { name?: string; networkId?: string }): Promise<Subnet[]> {
    return (await this.list('subnets', 'subnets', { name: f.name, network_id: f.networkId })).map(toSubnet);
  }
  async createSubnet(spec: Marked & { networkId: string; cidr: string; dnsNameservers: string[] }): Promise<Subnet> {
    const body = { network_id: spec.networkId, cidr: spec.cidr, ip_version: 4, dns_nameservers: spec.dnsNameservers };
    return toSubnet(await this.createOwned('subnets', 'subnet', body, spec));
  }
  async updateSubnet(id: string, patch: { dnsNameservers?: string[] }): Promise<Subnet> {
    const r = await this.session.request('network', 'PUT', `/subnets/${id}`, {
      body: { subnet: { dns_nameservers: patch.dnsNameservers } },
    });
    return toSubnet(r.body.subnet as Raw);
  }
  deleteSubnet(id: string): Promise<void> {
    return this.del('subnets', id);
  }

  // --- routers ---
  async listRouters(f: { name: string }): Promise<Router[]> {
    return (await this.list('routers', 'routers', { name: f.name })).map(toRouter);
  }
  async createRouter(spec: Marked & { externalNetworkId: string }): Promise<Router> {
    const body = { external_gateway_info: { network_id: spec.externalNetworkId } };
    return toRouter(await this.createOwned('routers', 'router', body, spec));
  }
  async setRouterGateway(id: string, externalNetworkId: string): Promise<Router> {
    const r = await this.session.request('network', 'PUT', `/routers/${id}`, {
      body: { router: { external_gateway_info: { network_id: externalNetworkId } } },
    });
    return toRouter(r.body.router as Raw);
  }
  deleteRouter(id: string): Promise<void> {
    return this.del('routers', id);
  }
  async addRouterInterface(routerId: string, subnetId: string): Promise<void> {
    try {
      await this.session.request('network', 'PUT', `/routers/${routerId}/add_router_interface`, {
        body: { subnet_id: subnetId },
      });
    } catch (e) {
      // A repeat after a lost answer: the interface is already there.
      if (e instanceof OpenStackApiError && e.status === 400 && /already has a port|already exists/i.test(e.detail))
        return;
      throw e;
    }
  }
  async removeRouterInterface(routerId: string, subnetId: string): Promise<void> {
    await this.session.request('network', 'PUT', `/routers/${routerId}/remove_router_interface`, {
      body: { subnet_id: subnetId },
      accept: [404],
    });
  }

  async listPorts(f: { deviceId?: string; networkId?: string }): Promise<Port[]> {
    return (await this.list('ports', 'ports', { device_id: f.deviceId, network_id: f.networkId })).map(toPort);
  }

  // --- floating IPs ---
  /** The project's floating IP quota; without the quota-details extension, usage is counted. */
  async floatingIpQuota(): Promise<QuotaUsage> {
    const project = await this.session.projectId();
    if (!project) throw new Error('network: the token names no project, so its quota cannot be read');
    const d = await this.session.request('network', 'GET', `/quotas/${project}/details`, { accept: [404] });
    if (d.status !== 404) {
      const fip = ((d.body?.quota as Raw | undefined)?.floatingip ?? {}) as Raw;
      return { limit: Number(fip.limit ?? -1), used: Number(fip.used ?? 0) };
    }
    const q = await this.session.request('network', 'GET', `/quotas/${project}`);
    const limit = Number(((q.body?.quota as Raw | undefined) ?? {}).floatingip ?? -1);
    return { limit, used: (await this.list('floatingips', 'floatingips', {})).length };
  }

  async listFloatingIps(f: { address?: string; description?: string }): Promise<FloatingIp[]> {
    const all = (await this.list('floatingips', 'floatingips', { floating_ip_address: f.address })).map(toFloatingIp);
    return f.description === undefined ? all : all.filter((x) => x.description === f.description);
  }
  async createFloatingIp(spec: { networkId: string; description: string; tags: string[] }): Promise<FloatingIp> {
    // No name to find it by: the description marker is the identity until the tag is set.
    const lookup = async (): Promise<Reply | undefined> => {
      const hit = (await this.list('floatingips', 'floatingips', { floating_network_id: spec.networkId })).find(
        (r) => r.description === spec.description,
      );
      return hit ? { status: 201, body: { floatingip: hit } } : undefined;
    };
    const reply = await this.session.request('network', 'POST', '/floatingips', {
      body: { floatingip: { floating_network_id: spec.networkId, description: spec.description } },
      lookup,
    });
    const raw = reply.body.floatingip as Raw;
    await this.setTags('floatingips', s(raw.id), spec.tags);
    return toFloatingIp({ ...raw, tags: spec.tags });
  }
  async getFloatingIp(id: string): Promise<FloatingIp | undefined> {
    const r = await this.session.request('network', 'GET', `/floatingips/${id}`, { accept: [404] });
    return r.status === 404 ? undefined : toFloatingIp(r.body.floatingip as Raw);
  }
  async associateFloatingIp(id: string, portId: string | null): Promise<FloatingIp> {
    const r = await this.session.request('network', 'PUT', `/floatingips/${id}`, {
      body: { floatingip: { port_id: portId } },
    });
    return toFloatingIp(r.body.floatingip as Raw);
  }
  deleteFloatingIp(id: string): Promise<void> {
    return this.del('floatingips', id);
  }
}

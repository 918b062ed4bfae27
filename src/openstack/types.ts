/**
 * The OpenStack resources the tool works with, reduced to the fields it
 * reads, and the client interface layers use. Layers never see HTTP.
 */
export interface SecurityGroupRule {
  id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  portRangeMin: number | null;
  portRangeMax: number | null;
  remoteIpPrefix: string | null;
}
export type RuleSpec = Omit<SecurityGroupRule, 'id'>;

/** Fields every owned Neutron resource carries: found by name, owned through tag or marker. */
interface Owned {
  id: string;
  name: string;
  description: string;
  tags: string[];
}

export interface SecurityGroup extends Owned {
  rules: SecurityGroupRule[];
}

export interface Network extends Owned {
  external: boolean;
  mtu?: number;
  status: string;
}

export interface Subnet extends Owned {
  networkId: string;
  cidr: string;
  dnsNameservers: string[];
  gatewayIp: string | null;
}

export interface Router extends Owned {
  externalNetworkId: string | null;
}

export interface Port {
  id: string;
  networkId: string;
  deviceId: string;
  deviceOwner: string;
  status: string;
  fixedIps: Array<{ subnetId: string; ipAddress: string }>;
}

export interface FloatingIp {
  id: string;
  address: string;
  description: string;
  tags: string[];
  floatingNetworkId: string;
  portId: string | null;
  fixedIpAddress: string | null;
  status: string;
}

export interface Keypair {
  name: string;
  publicKey: string;
  fingerprint: string;
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

export interface Image {
  id: string;
  name: string;
  status: string;
}

export interface Server {
  id: string;
  name: string;
  status: string;
  tags: string[];
  metadata: Record<string, string>;
  /** Nova >= 2.47 embeds the flavor (name, sizes) instead of its id. */
  flavor: { id?: string; name?: string; vcpus?: number; ram?: number; disk?: number };
  imageId: string | null;
  keyName: string | null;
  securityGroups: string[];
  /** Addresses by network name. */
  addresses: Record<string, Array<{ addr: string; type: 'fixed' | 'floating' | string; version: number }>>;
  fault?: string;
  /** Being deleted (Nova's task state `deleting`, or status DELETED): still listed for a while, but going away. */
  deleting?: boolean;
}

export interface VolumeAttachment {
  id: string;
  serverId: string;
  volumeId: string;
  device?: string;
}

export interface Volume {
  id: string;
  name: string;
  status: string;
  size: number;
  volumeType: string | null;
  metadata: Record<string, string>;
  attachments: Array<{ serverId: string; device?: string }>;
}

/** What an owned resource is created with: the tag, and a description that marks it ours even before it is tagged. */
export interface Marked {
  name: string;
  description: string;
  tags: string[];
}

export interface ServerSpec {
  name: string;
  flavorId: string;
  imageId: string;
  keyName: string;
  networkId: string;
  securityGroup: string;
  tags: string[];
  metadata: Record<string, string>;
  userData?: string;
}

export interface VolumeSpec {
  name: string;
  description: string;
  size: number;
  volumeType?: string;
  metadata: Record<string, string>;
}

/** A quota and what the project uses of it; `limit` -1 means unlimited. */
export interface QuotaUsage {
  limit: number;
  used: number;
}

/** Nova's absolute limits for the project. */
export interface ComputeLimits {
  instances: QuotaUsage;
  cores: QuotaUsage;
  ramMb: QuotaUsage;
}

/** Cinder's absolute limits for the project (all volume types together). */
export interface VolumeLimits {
  volumes: QuotaUsage;
  gigabytes: QuotaUsage;
}

export interface LoadBalancer {
  id: string;
  name: string;
}

/** Requests sent per service type. */
type RequestStats = Record<string, number>;

/**
 * Everything the seed-infra layer needs from OpenStack. Every create is
 * safe after an ambiguous failure (it looks up by name and marker before
 * retrying); every delete tolerates "already gone".
 */
export interface OpenStackClient {
  hasService(type: 'compute' | 'network' | 'image' | 'block-storage' | 'load-balancer'): Promise<boolean>;

  // --- network ---
  listSecurityGroups(filter: { name: string }): Promise<SecurityGroup[]>;
  createSecurityGroup(spec: Marked): Promise<SecurityGroup>;
  deleteSecurityGroup(id: string): Promise<void>;
  /** Creating a rule that already exists is a success. */
  createSecurityGroupRule(groupId: string, rule: RuleSpec): Promise<SecurityGroupRule>;
  deleteSecurityGroupRule(id: string): Promise<void>;

  listNetworks(filter: { name?: string; id?: string; external?: boolean }): Promise<Network[]>;
  createNetwork(spec: Marked & { mtu?: number }): Promise<Network>;
  updateNetwork(id: string, patch: { mtu?: number }): Promise<Network>;
  deleteNetwork(id: string): Promise<void>;

  listSubnets(filter: { name?: string; networkId?: string }): Promise<Subnet[]>;
  createSubnet(spec: Marked & { networkId: string; cidr: string; dnsNameservers: string[] }): Promise<Subnet>;
  updateSubnet(id: string, patch: { dnsNameservers?: string[] }): Promise<Subnet>;
  deleteSubnet(id: string): Promise<void>;

  listRouters(filter: { name: string }): Promise<Router[]>;
  createRouter(spec: Marked & { externalNetworkId: string }): Promise<Router>;
  setRouterGateway(id: string, externalNetworkId: string): Promise<Router>;
  deleteRouter(id: string): Promise<void>;
  /** Adding an interface that exists is a success; so is removing one that does not. */
  addRouterInterface(routerId: string, subnetId: string): Promise<void>;
  removeRouterInterface(routerId: string, subnetId: string): Promise<void>;

  listPorts(filter: { deviceId?: string; networkId?: string }): Promise<Port[]>;

  /** Floating IPs of the project; pass `address` to find one by address. */
  listFloatingIps(filter: { address?: string; description?: string }): Promise<FloatingIp[]>;
  createFloatingIp(spec: { networkId: string; description: string; tags: string[] }): Promise<FloatingIp>;
  getFloatingIp(id: string): Promise<FloatingIp | undefined>;
  associateFloatingIp(id: string, portId: string | null): Promise<FloatingIp>;
  deleteFloatingIp(id: string): Promise<void>;

  /** Replace the tags of a Neutron resource (`networks`, `subnets`, `routers`, `security-groups`, `floatingips`). */
  setTags(collection: NeutronCollection, id: string, tags: string[]): Promise<void>;

  // --- compute ---
  listFlavors(): Promise<Flavor[]>;
  getKeypair(name: string): Promise<Keypair | undefined>;
  createKeypair(name: string, publicKey: string): Promise<Keypair>;
  deleteKeypair(name: string): Promise<void>;

  listServers(filter: { name: string }): Promise<Server[]>;
  /** Servers whose name starts with `prefix` (e.g. the machines CAPO made for a cluster). */
  listServersByPrefix(prefix: string): Promise<Server[]>;
  computeLimits(): Promise<ComputeLimits>;
  getServer(id: string): Promise<Server | undefined>;
  createServer(spec: ServerSpec): Promise<Server>;
  deleteServer(id: string): Promise<void>;
  setServerTags(id: string, tags: string[]): Promise<void>;
  listVolumeAttachments(serverId: string): Promise<VolumeAttachment[]>;
  /** Attaching a volume that is already attached to this server is a success. */
  attachVolume(serverId: string, volumeId: string): Promise<VolumeAttachment>;
  detachVolume(serverId: string, volumeId: string): Promise<void>;

  // --- image ---
  findImages(ref: { name?: string; id?: string }): Promise<Image[]>;
  /** Names of images visible to the project (for "did you mean"). */
  listImageNames(): Promise<string[]>;

  // --- block storage ---
  listVolumes(filter: { name: string }): Promise<Volume[]>;
  getVolume(id: string): Promise<Volume | undefined>;
  createVolume(spec: VolumeSpec): Promise<Volume>;
  extendVolume(id: string, size: number): Promise<void>;
  deleteVolume(id: string): Promise<void>;
  volumeLimits(): Promise<VolumeLimits>;

  // --- quotas of the network and load-balancer services ---
  floatingIpQuota(): Promise<QuotaUsage>;
  /** Octavia's load balancer quota and the project's load balancers. */
  loadBalancerQuota(): Promise<QuotaUsage & { loadBalancers: LoadBalancer[] }>;

  /** Requests sent per service since the client was made (or reset). */
  stats(): RequestStats;
  resetStats(): void;
}

export type NeutronCollection = 'networks' | 'subnets' | 'routers' | 'security-groups' | 'floatingips';

/**
 * Read what exists for the seed: every owned resource by name (kept when it
 * carries our tag or our marker), plus what the config refers to (flavors,
 * image, external networks). Read-only; every read starts as soon as what it
 * needs is known.
 */
import type { Desired } from '../../model/desired.js';
import type {
  FloatingIp,
  Flavor,
  Image,
  Keypair,
  Network,
  OpenStackClient,
  Port,
  Router,
  SecurityGroup,
  Server,
  Subnet,
  Volume,
} from '../../openstack/types.js';
import { ENV_METADATA_KEY, seedSpec, type SeedSpec } from './spec.js';

export interface SeedInfraObserved {
  /** The catalog lists block storage (else the data volume is skipped). */
  blockStorage: boolean;
  flavors: Flavor[];
  /** Images matching the configured name or id. */
  images: Image[];
  /** All image names, only read when the configured image is missing (for suggestions). */
  imageNames: string[];
  /** All network names, only read when `seed.network.existing` is missing (for suggestions). */
  networkNames: string[];
  externalNetworks: Network[];
  /** `seed.network.existing`: networks matching the reference. */
  existingNetworks: Network[];
  /** Owned resources; more than one per identity is a conflict the diff reports. */
  securityGroups: SecurityGroup[];
  networks: Network[];
  subnets: Subnet[];
  routers: Router[];
  /** Ports of the (single) owned router. */
  routerPorts: Port[];
  keypair?: Keypair;
  volumes: Volume[];
  servers: Server[];
  /** Ports of the (single) owned server. */
  serverPorts: Port[];
  /** allocate/none: owned floating IPs; fixed: the one at the configured address. */
  floatingIps: FloatingIp[];
}

const isOwned = (spec: SeedSpec, r: { tags: string[]; description: string }): boolean =>
  r.tags.includes(spec.tag) || r.description === spec.marker;

export async function observeSeedInfra(client: OpenStackClient, desired: Desired): Promise<SeedInfraObserved> {
  const spec = seedSpec(desired);
  const seed = desired.config.seed;
  const own = <T extends { tags: string[]; description: string }>(xs: T[]): T[] => xs.filter((x) => isOwned(spec, x));
  const existingRef = 'existing' in seed.network ? seed.network.existing : undefined;
  const blockStorage = await client.hasService('block-storage');
  const fipMode = seed.floatingIp.mode;

  // Each read starts as soon as what it needs is known: the ports of the router and of the server follow
  // their own list, not the slowest of all the lists.
  const routersP = existingRef ? Promise.resolve([]) : client.listRouters({ name: spec.names.router }).then(own);
  const serversP = client
    .listServers({ name: spec.names.server })
    // A server on its way out is not the seed: the plan makes a new one, and deletes wait for it to go.
    .then((ss) =>
      ss.filter((s) => !s.deleting && (s.tags.includes(spec.tag) || s.metadata[ENV_METADATA_KEY] === spec.tag)),
    );
  const imagesP = client.findImages(seed.image);
  const existingP = existingRef ? client.listNetworks(existingRef) : Promise.resolve([]);
  const [
    flavors,
    images,
    externalNetworks,
    existingNetworks,
    securityGroups,
    networks,
    subnets,
    routers,
    keypair,
    volumes,
    servers,
    floatingIps,
    routerPorts,
    serverPorts,
    imageNames,
    networkNames,
  ] = await Promise.all([
    client.listFlavors(),
    imagesP,
    client.listNetworks({ external: true }),
    existingP,
    client.listSecurityGroups({ name: spec.names.securityGroup }).then(own),
    existingRef ? Promise.resolve([]) : client.listNetworks({ name: spec.names.network }).then(own),
    existingRef ? Promise.resolve([]) : client.listSubnets({ name: spec.names.subnet }).then(own),
    routersP,
    client.getKeypair(spec.names.keypair),
    blockStorage
      ? client
          .listVolumes({ name: spec.names.volume })
          .then((vs) => vs.filter((v) => v.metadata[ENV_METADATA_KEY] === spec.tag))
      : Promise.resolve([]),
    serversP,
    fipMode === 'fixed'
      ? client.listFloatingIps({ address: seed.floatingIp.address })
      : client.listFloatingIps({}).then(own),
    routersP.then((rs) => (rs.length === 1 ? client.listPorts({ deviceId: rs[0]!.id }) : [])),
    serversP.then((ss) => (ss.length === 1 ? client.listPorts({ deviceId: ss[0]!.id }) : [])),
    imagesP.then((is) => (is.length === 0 ? client.listImageNames() : [])),
    existingP.then((ns) =>
      existingRef && ns.length === 0 ? client.listNetworks({}).then((all) => all.map((n) => n.name)) : [],
    ),
  ]);

  return {
    blockStorage,
    flavors,
    images,
    imageNames,
    networkNames,
    externalNetworks,
    existingNetworks,
    securityGroups,
    networks,
    subnets,
    routers,
    routerPorts,
    keypair,
    volumes,
    servers,
    serverPorts,
    floatingIps,
  };
}

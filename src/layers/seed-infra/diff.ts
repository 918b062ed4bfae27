/**
 * seed-infra's diff: pure, no I/O. It resolves the config's references
 * against what observe listed, then compares resource by resource.
 * Two owned resources claiming one identity is an error naming both ids:
 * the tool never guesses which one is real.
 */
import type { Desired } from '../../model/desired.js';
import type {
  FloatingIp,
  Flavor,
  Image,
  Network,
  Router,
  SecurityGroup,
  Server,
  Subnet,
  Volume,
} from '../../openstack/types.js';
import type { Change } from '../../plan/plan.js';
import type { LayerDiff } from '../../engine/types.js';
import type { SeedInfraObserved } from './observe.js';
import { pickExternalNetwork, pickFlavor, pickImage } from './resolve.js';
import { describeRule, KEY_METADATA_KEY, ruleKey, samePublicKey, seedSpec, type SeedSpec } from './spec.js';
import { NotFoundError } from '../../openstack/errors.js';

export const LAYER = 'seed-infra';

class ConflictError extends Error {
  constructor(address: string, ids: readonly string[]) {
    super(
      `${ids.length} resources claim ${address}: ${ids.join(', ')}. Delete the ones that are not the seed's (or remove their tag) and run again.`,
    );
    this.name = 'ConflictError';
  }
}

/** Change addresses: stable identities inside the layer. */
function addresses(spec: SeedSpec) {
  const n = spec.names;
  return {
    securityGroup: `security-group/${n.securityGroup}`,
    network: `network/${n.network}`,
    subnet: `subnet/${n.subnet}`,
    router: `router/${n.router}`,
    routerInterface: `router-interface/${n.router}`,
    keypair: `keypair/${n.keypair}`,
    volume: `volume/${n.volume}`,
    server: `server/${n.server}`,
    attachment: `volume-attachment/${n.volume}`,
    floatingIp: `floating-ip/${n.server}`,
  };
}
type Addresses = ReturnType<typeof addresses>;

/** The single owned resource, or none; more is a conflict. */
function one<T extends { id: string }>(address: string, xs: readonly T[]): T | undefined {
  if (xs.length > 1)
    throw new ConflictError(
      address,
      xs.map((x) => x.id),
    );
  return xs[0];
}

/** Everything apply needs besides the changes: resolved references and the current resources. */
export interface Resolved {
  spec: SeedSpec;
  addr: Addresses;
  flavor: Flavor;
  image: Image;
  /** Undefined only when nothing needs it (existing network and no floating IP). */
  externalNetwork?: Network;
  floatingNetwork?: Network;
  existingNetwork?: Network;
  securityGroup?: SecurityGroup;
  network?: Network;
  subnet?: Subnet;
  router?: Router;
  volume?: Volume;
  server?: Server;
  floatingIp?: FloatingIp;
}

export function resolve(desired: Desired, o: SeedInfraObserved): Resolved {
  const spec = seedSpec(desired);
  const addr = addresses(spec);
  const seed = desired.config.seed;
  const existingRef = 'existing' in seed.network ? seed.network.existing : undefined;
  const fip = seed.floatingIp;

  const needExternal = !existingRef || fip.mode === 'allocate';
  let externalNetwork: Network | undefined;
  if (needExternal) externalNetwork = pickExternalNetwork(seed.externalNetwork, o.externalNetworks);
  else if (o.externalNetworks.length === 1 && !seed.externalNetwork) externalNetwork = o.externalNetworks[0];

  let floatingNetwork = externalNetwork;
  if (fip.mode === 'allocate' && fip.pool)
    floatingNetwork = pickExternalNetwork({ name: fip.pool }, o.externalNetworks);

  let existingNetwork: Network | undefined;
  if (existingRef) {
    const key = existingRef.id ?? existingRef.name ?? '';
    const hits = o.existingNetworks.filter((n) =>
      existingRef.id ? n.id === existingRef.id : n.name === existingRef.name,
    );
    if (hits.length === 0) {
      throw new NotFoundError(
        `seed.network.existing: network${existingRef.id ? ' id' : ''}`,
        key,
        existingRef.id ? [] : o.networkNames,
      );
    }
    if (hits.length > 1)
      throw new ConflictError(
        `seed.network.existing ${key}`,
        hits.map((n) => n.id),
      );
    existingNetwork = hits[0];
  }

  let floatingIp: FloatingIp | undefined;
  if (fip.mode === 'fixed') {
    floatingIp = o.floatingIps.find((f) => f.address === fip.address);
    if (!floatingIp) {
      throw new Error(
        `seed.floatingIp.address: ${fip.address} is not a floating IP of the project; allocate it first (a non-admin cannot choose the address)`,
      );
    }
  } else if (fip.mode === 'allocate') floatingIp = one(addr.floatingIp, o.floatingIps);

  return {
    spec,
    addr,
    flavor: pickFlavor(seed.flavor, o.flavors),
    image: pickImage(seed.image, o.images, o.imageNames),
    externalNetwork,
    floatingNetwork,
    existingNetwork,
    securityGroup: one(addr.securityGroup, o.securityGroups),
    network: existingRef ? undefined : one(addr.network, o.networks),
    subnet: existingRef ? undefined : one(addr.subnet, o.subnets),
    router: existingRef ? undefined : one(addr.router, o.routers),
    volume: o.blockStorage ? one(addr.volume, o.volumes) : undefined,
    server: one(addr.server, o.servers),
    floatingIp,
  };
}

const layerChange = (c: Omit<Change, 'layer'>): Change => ({ layer: LAYER, ...c });
const untagged = (tags: string[], spec: SeedSpec) => !tags.includes(spec.tag);
const TAG_REASON = 'the tag is missing (an earlier run stopped before tagging)';

export function diffSeedInfra(desired: Desired, o: SeedInfraObserved): LayerDiff {
  const r = resolve(desired, o);
  const { spec, addr } = r;
  const seed = desired.config.seed;
  const changes: Change[] = [];
  const notes: string[] = [];
  const add = (c: Omit<Change, 'layer'>) => changes.push(layerChange(c));

  // --- security group ---
  const wantRules = spec.rules.map(describeRule).sort();
  if (!r.securityGroup) add({ address: addr.securityGroup, action: 'create', after: { rules: wantRules } });
  else {
    const have = new Map(r.securityGroup.rules.map((x) => [ruleKey(x), x]));
    const want = new Map(spec.rules.map((x) => [ruleKey(x), x]));
    const missing = [...want].filter(([k]) => !have.has(k)).map(([, x]) => describeRule(x));
    const extra = [...have].filter(([k]) => !want.has(k)).map(([, x]) => describeRule(x));
    const before = { rules: r.securityGroup.rules.map(describeRule).sort() };
    const reasons = [
      missing.length && `missing: ${missing.join('; ')}`,
      extra.length && `not wanted: ${extra.join('; ')}`,
      untagged(r.securityGroup.tags, spec) && TAG_REASON,
    ].filter(Boolean);
    add({
      address: addr.securityGroup,
      action: reasons.length ? 'update' : 'no-op',
      before,
      after: { rules: wantRules },
      ...(reasons.length ? { reason: reasons.join('; ') } : {}),
    });
  }

  // --- network, subnet, router (unless an existing network is used) ---
  const createNetwork = 'cidr' in seed.network ? seed.network : undefined;
  let networkIsNew = false;
  if (createNetwork) {
    const wantNet = { mtu: createNetwork.mtu ?? null };
    if (!r.network) {
      networkIsNew = true;
      add({ address: addr.network, action: 'create', after: wantNet });
    } else {
      const reasons = [
        createNetwork.mtu !== undefined &&
          r.network.mtu !== createNetwork.mtu &&
          `mtu ${r.network.mtu} -> ${createNetwork.mtu}`,
        untagged(r.network.tags, spec) && TAG_REASON,
      ].filter(Boolean);
      add({
        address: addr.network,
        action: reasons.length ? 'update' : 'no-op',
        before: { mtu: r.network.mtu ?? null },
        after: wantNet,
        ...(reasons.length ? { reason: reasons.join('; ') } : {}),
      });
    }

    const wantSubnet = { cidr: createNetwork.cidr, dnsNameservers: createNetwork.dnsNameservers };
    if (!r.subnet || networkIsNew) add({ address: addr.subnet, action: 'create', after: wantSubnet });
    else {
      if (r.subnet.cidr !== createNetwork.cidr) {
        notes.push(
          `seed-infra: subnet ${spec.names.subnet} has CIDR ${r.subnet.cidr}, the config says ${createNetwork.cidr}; a CIDR cannot change in place (destroy and re-create the seed to apply it)`,
        );
      }
      const dnsDiffers =
        [...r.subnet.dnsNameservers].sort().join(',') !== [...createNetwork.dnsNameservers].sort().join(',');
      const reasons = [dnsDiffers && 'DNS name servers differ', untagged(r.subnet.tags, spec) && TAG_REASON].filter(
        Boolean,
      );
      add({
        address: addr.subnet,
        action: reasons.length ? 'update' : 'no-op',
        before: { cidr: r.subnet.cidr, dnsNameservers: r.subnet.dnsNameservers },
        after: wantSubnet,
        ...(reasons.length ? { reason: reasons.join('; ') } : {}),
      });
    }

    const ext = r.externalNetwork!;
    const wantRouter = { externalNetwork: ext.name };
    if (!r.router) add({ address: addr.router, action: 'create', after: wantRouter });
    else {
      const reasons = [
        r.router.externalNetworkId !== ext.id &&
          `external gateway ${r.router.externalNetworkId ?? 'none'} -> ${ext.id} (${ext.name})`,
        untagged(r.router.tags, spec) && TAG_REASON,
      ].filter(Boolean);
      add({
        address: addr.router,
        action: reasons.length ? 'update' : 'no-op',
        before: { externalNetworkId: r.router.externalNetworkId },
        after: wantRouter,
        ...(reasons.length ? { reason: reasons.join('; ') } : {}),
      });
    }

    const hasInterface =
      !!r.router &&
      !!r.subnet &&
      !networkIsNew &&
      o.routerPorts.some((p) => p.fixedIps.some((f) => f.subnetId === r.subnet!.id));
    add({
      address: addr.routerInterface,
      action: hasInterface ? 'no-op' : 'create',
      after: { router: spec.names.router, subnet: spec.names.subnet },
    });
  }

  // --- keypair ---
  const wantKey = { publicKey: spec.publicKey };
  if (!o.keypair) add({ address: addr.keypair, action: 'create', after: wantKey });
  else {
    const same = samePublicKey(o.keypair.publicKey, spec.publicKey);
    add({
      address: addr.keypair,
      action: same ? 'no-op' : 'replace',
      before: { publicKey: o.keypair.publicKey },
      after: wantKey,
      ...(same ? {} : { reason: 'the public key in the config changed' }),
    });
  }

  // --- data volume ---
  const vol = seed.dataVolume;
  const wantVolume = { size: vol.size, type: vol.type ?? null };
  if (!o.blockStorage) {
    notes.push(
      `seed-infra: the cloud's catalog has no block-storage service; the data volume ${spec.names.volume} is skipped (K3s keeps its state on the root disk)`,
    );
  } else if (!r.volume) add({ address: addr.volume, action: 'create', after: wantVolume });
  else {
    if (vol.size < r.volume.size)
      notes.push(
        `seed-infra: volume ${spec.names.volume} is ${r.volume.size} GB, the config says ${vol.size} GB; volumes cannot shrink`,
      );
    if (vol.type && r.volume.volumeType && vol.type !== r.volume.volumeType) {
      notes.push(
        `seed-infra: volume ${spec.names.volume} has type ${r.volume.volumeType}, the config says ${vol.type}; the type is not changed in place`,
      );
    }
    const grow = vol.size > r.volume.size;
    add({
      address: addr.volume,
      action: grow ? 'update' : 'no-op',
      before: { size: r.volume.size, type: r.volume.volumeType },
      after: wantVolume,
      ...(grow ? { reason: `grow from ${r.volume.size} GB to ${vol.size} GB` } : {}),
    });
  }

  // --- server ---
  const networkId = r.existingNetwork?.id ?? r.network?.id;
  const wantServer = {
    flavor: r.flavor.name,
    image: r.image.name || r.image.id,
    keypair: spec.names.keypair,
    keyFingerprint: spec.keyFingerprint,
    network: r.existingNetwork?.name ?? spec.names.network,
    securityGroup: spec.names.securityGroup,
  };
  let serverAction: 'create' | 'replace' | 'keep' = 'keep';
  if (!r.server) {
    serverAction = 'create';
    add({ address: addr.server, action: 'create', after: wantServer });
  } else {
    const s = r.server;
    const reasons: string[] = [];
    if (s.status === 'ERROR') reasons.push(`the server is in ERROR${s.fault ? ` (${s.fault})` : ''}`);
    const flavorMatches = s.flavor.id ? s.flavor.id === r.flavor.id : s.flavor.name === r.flavor.name;
    if (!flavorMatches) reasons.push(`flavor ${s.flavor.name ?? s.flavor.id} -> ${r.flavor.name}`);
    if (s.imageId !== r.image.id) reasons.push(`image ${s.imageId ?? 'none'} -> ${r.image.id} (${r.image.name})`);
    if (s.keyName !== spec.names.keypair || s.metadata[KEY_METADATA_KEY] !== spec.keyFingerprint)
      reasons.push('the SSH key changed');
    if (networkIsNew || (networkId && !o.serverPorts.some((p) => p.networkId === networkId))) {
      reasons.push('the server is not on the seed network');
    }
    const before = {
      flavor: s.flavor.name ?? s.flavor.id,
      image: s.imageId,
      keypair: s.keyName,
      keyFingerprint: s.metadata[KEY_METADATA_KEY] ?? null,
      status: s.status,
    };
    if (reasons.length) {
      serverAction = 'replace';
      add({
        address: addr.server,
        action: 'replace',
        before,
        after: wantServer,
        reason: `${reasons.join('; ')} (the data volume is kept and re-attached)`,
      });
    } else {
      const retag = untagged(s.tags, spec);
      add({
        address: addr.server,
        action: retag ? 'update' : 'no-op',
        before,
        after: wantServer,
        ...(retag ? { reason: TAG_REASON } : {}),
      });
    }
  }

  // --- volume attachment ---
  if (o.blockStorage) {
    const attachedHere =
      !!r.volume &&
      !!r.server &&
      serverAction === 'keep' &&
      r.volume.attachments.some((a) => a.serverId === r.server!.id);
    const after = { volume: spec.names.volume, server: spec.names.server };
    if (attachedHere) add({ address: addr.attachment, action: 'no-op', after });
    else {
      const wasAttached = !!r.volume && r.volume.attachments.length > 0;
      add({
        address: addr.attachment,
        action: wasAttached && serverAction === 'replace' ? 'replace' : 'create',
        after,
        ...(serverAction === 'replace' ? { reason: 're-attach to the new server' } : {}),
      });
    }
  }

  // --- floating IP ---
  const fip = seed.floatingIp;
  if (fip.mode === 'none') {
    for (const f of o.floatingIps) {
      add({
        address: `${addr.floatingIp}[${f.address}]`,
        action: 'delete',
        before: { address: f.address, id: f.id },
        reason: 'seed.floatingIp.mode is none',
      });
    }
  } else {
    const f = r.floatingIp;
    const after =
      fip.mode === 'fixed'
        ? { address: fip.address, server: spec.names.server }
        : { network: r.floatingNetwork!.name, server: spec.names.server };
    if (!f) add({ address: addr.floatingIp, action: 'create', after });
    else if (fip.mode === 'allocate' && f.floatingNetworkId !== r.floatingNetwork!.id) {
      add({
        address: addr.floatingIp,
        action: 'replace',
        before: { address: f.address },
        after,
        reason: `allocate from ${r.floatingNetwork!.name} instead`,
      });
    } else {
      const associated = serverAction === 'keep' && f.portId !== null && o.serverPorts.some((p) => p.id === f.portId);
      const reasons = [
        !associated && (serverAction === 'keep' ? 'not associated with the seed' : 're-associate with the new server'),
        fip.mode === 'allocate' && untagged(f.tags, spec) && TAG_REASON,
      ].filter(Boolean);
      add({
        address: addr.floatingIp,
        action: reasons.length ? 'update' : 'no-op',
        before: { address: f.address, associated: f.portId !== null },
        after: { ...after, address: f.address },
        ...(reasons.length ? { reason: reasons.join('; ') } : {}),
      });
    }
  }

  return { changes, notes };
}

/** Everything the layer owns, deleted in reverse dependency order (apply sorts them). Never throws on duplicates: all go. */
export function diffDestroySeedInfra(desired: Desired, o: SeedInfraObserved): LayerDiff {
  const spec = seedSpec(desired);
  const addr = addresses(spec);
  const changes: Change[] = [];
  const del = (
    address: string,
    xs: ReadonlyArray<{ id: string }>,
    info: (x: never) => Record<string, unknown> = () => ({}),
  ) => {
    for (const x of xs) {
      changes.push(
        layerChange({
          address: xs.length > 1 ? `${address}[${x.id}]` : address,
          action: 'delete',
          before: { id: x.id, ...info(x as never) },
        }),
      );
    }
  };
  if (desired.config.seed.floatingIp.mode === 'fixed') {
    // Not ours to release: only take it off the seed.
    for (const f of o.floatingIps.filter((x) => x.portId)) {
      changes.push(
        layerChange({
          address: addr.floatingIp,
          action: 'update',
          before: { id: f.id, address: f.address, associated: true },
          after: { address: f.address, associated: false },
          reason: 'detach the fixed floating IP from the seed',
        }),
      );
    }
  } else del(addr.floatingIp, o.floatingIps, (f: FloatingIp) => ({ address: f.address }));
  del(addr.server, o.servers);
  del(addr.volume, o.volumes, (v: Volume) => ({ size: v.size }));
  if (o.keypair) changes.push(layerChange({ address: addr.keypair, action: 'delete', before: { id: o.keypair.name } }));
  const subnetIds = new Set(o.subnets.map((s) => s.id));
  if (o.routers.length === 1 && o.routerPorts.some((p) => p.fixedIps.some((f) => subnetIds.has(f.subnetId)))) {
    changes.push(layerChange({ address: addr.routerInterface, action: 'delete', before: { id: o.routers[0]!.id } }));
  }
  del(addr.router, o.routers);
  del(addr.subnet, o.subnets);
  del(addr.network, o.networks);
  del(addr.securityGroup, o.securityGroups);
  return { changes };
}

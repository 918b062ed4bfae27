/**
 * seed-infra's apply. Deletes run first, then creates and updates; each
 * phase runs along the dependency graph (a step starts as soon as what it
 * needs is done, deletes walk the graph backwards), with a bound on the
 * steps running at once. Every step is find-or-create or tolerant of
 * "already done", so a re-run after a failure anywhere, even with several
 * steps cut off at once, converges: the next observe sees what exists and
 * the diff asks only for the rest.
 */
import type { Desired } from '../../model/desired.js';
import type { LayerContext } from '../../engine/types.js';
import { OpenStackApiError } from '../../openstack/errors.js';
import type {
  FloatingIp,
  Network,
  OpenStackClient,
  Port,
  Router,
  SecurityGroup,
  Server,
  Subnet,
  Volume,
} from '../../openstack/types.js';
import type { Change } from '../../plan/plan.js';
import { forEachLimited, runGraph, type GraphTask } from '../../util/graph.js';
import { waitFor } from '../../util/wait.js';
import { resolve, type Resolved } from './diff.js';
import { outputsOf, seedInfraOutputs } from './outputs.js';
import type { SeedInfraObserved } from './observe.js';
import { ENV_METADATA_KEY, KEY_METADATA_KEY, ruleKey } from './spec.js';

export interface WaitSettings {
  serverMs: number;
  volumeMs: number;
  floatingIpMs: number;
  deleteMs: number;
  intervalMs: number;
}

export const DEFAULT_WAITS: WaitSettings = {
  serverMs: 15 * 60_000,
  volumeMs: 5 * 60_000,
  floatingIpMs: 3 * 60_000,
  deleteMs: 5 * 60_000,
  intervalMs: 1500,
};

/** Steps running at once, by default (OpenTofu's default is 10). */
const DEFAULT_PARALLELISM = 8;

type Kind =
  | 'security-group'
  | 'network'
  | 'subnet'
  | 'router'
  | 'router-interface'
  | 'keypair'
  | 'volume'
  | 'server'
  | 'volume-attachment'
  | 'floating-ip';

/**
 * Create steps and what each needs first. A security group's rules and a
 * floating IP's association are steps of their own, so the server does not
 * wait for the rules and the address is allocated while the server builds.
 */
type Step = Kind | 'security-group-rules' | 'floating-ip-association';
const CREATE_AFTER: Record<Step, readonly Step[]> = {
  'security-group': [],
  'security-group-rules': ['security-group'],
  network: [],
  subnet: ['network'],
  // The router's gateway is the heaviest Neutron call, and a cloud's Neutron serves requests with few
  // workers (the lab's with one): it waits until the network and subnet the server needs are made, then
  // runs while the server builds, which takes longer than the router and its interface together.
  router: ['subnet'],
  'router-interface': ['router', 'subnet'],
  keypair: [],
  volume: [],
  // A port needs the subnet; the key pair and group are named in the boot request.
  server: ['security-group', 'network', 'subnet', 'keypair'],
  'volume-attachment': ['volume', 'server'],
  // Not needed before the server is up: allocated after the subnet too, for the same reason.
  'floating-ip': ['subnet'],
  // Neutron refuses a floating IP for a port whose subnet has no router to the outside.
  'floating-ip-association': ['floating-ip', 'server', 'router-interface'],
};

/** Delete steps and what must be gone first: the create graph backwards. */
const DELETE_AFTER: Record<Kind, readonly Kind[]> = {
  'floating-ip': [],
  'volume-attachment': [],
  // Neutron lets go of a floating IP when the server's port goes: no need to wait for its delete.
  server: ['volume-attachment'],
  volume: ['server', 'volume-attachment'],
  keypair: ['server'],
  'router-interface': ['floating-ip'],
  router: ['router-interface', 'floating-ip'],
  subnet: ['router-interface', 'server'],
  network: ['subnet', 'server', 'router-interface'],
  'security-group': ['server'],
};
const kindOf = (c: Change): Kind => c.address.split('/')[0] as Kind;
const idOf = (c: Change): string => String((c.before as { id?: unknown } | undefined)?.id ?? '');

interface State {
  sg?: SecurityGroup;
  network?: Network;
  subnet?: Subnet;
  router?: Router;
  volume?: Volume;
  server?: Server;
  fip?: FloatingIp;
}

export class SeedInfraApplier {
  constructor(
    private readonly client: OpenStackClient,
    private readonly desired: Desired,
    private readonly ctx: LayerContext,
    private readonly waits: WaitSettings = DEFAULT_WAITS,
    private readonly parallelism: number = DEFAULT_PARALLELISM,
  ) {}

  private run(tasks: GraphTask[]): Promise<void> {
    return runGraph(tasks, {
      limit: this.parallelism,
      onOtherError: (e) => this.ctx.log.warn(`seed-infra: another step failed too: ${errorText(e)}`),
    });
  }

  private info(m: string): void {
    this.ctx.log.info(`seed-infra: ${m}`);
  }

  private wait<T>(
    what: string,
    timeoutMs: number,
    check: () => Promise<T | undefined>,
    status?: () => string | undefined,
  ): Promise<T> {
    return waitFor({
      what,
      check,
      timeoutMs,
      intervalMs: this.waits.intervalMs,
      status,
      log: (m) => this.info(m),
    });
  }

  async apply(changes: readonly Change[], observed: SeedInfraObserved): Promise<void> {
    const deletes = changes.filter((c) => c.action === 'delete' || isDetach(c));
    const rest = changes.filter((c) => !deletes.includes(c));
    await this.run(
      deletes.map((c) => ({
        id: c.address,
        after: deletes.filter((x) => DELETE_AFTER[kindOf(c)].includes(kindOf(x))).map((x) => x.address),
        run: () => this.remove(kindOf(c), c),
      })),
    );
    if (rest.length === 0) return;

    const r = resolve(this.desired, observed);
    const st: State = {
      sg: r.securityGroup,
      network: r.network ?? r.existingNetwork,
      subnet: r.subnet,
      router: r.router,
      volume: r.volume,
      server: r.server,
      fip: r.floatingIp,
    };
    const tasks: GraphTask[] = [];
    const step = (id: Step, run: () => Promise<void>) => tasks.push({ id, after: CREATE_AFTER[id], run });
    for (const c of rest) {
      const kind = kindOf(c);
      if (tasks.some((t) => t.id === kind)) continue; // one change per kind; the diff never makes two
      step(kind, () => this.converge(kind, c, r, st));
      if (kind === 'security-group') step('security-group-rules', () => this.syncRules(st.sg!, r));
      if (kind === 'floating-ip') step('floating-ip-association', () => this.associate(st));
    }
    await this.run(tasks);
    const ports = st.server ? await this.client.listPorts({ deviceId: st.server.id }) : [];
    this.ctx.publish(
      seedInfraOutputs,
      outputsOf(this.desired, {
        server: st.server,
        serverPorts: ports,
        floatingIp: st.fip,
        networkId: st.network?.id,
        keypairName: r.spec.names.keypair,
        externalNetworkId: r.externalNetwork?.id,
        flavorName: r.flavor.name,
        dataVolume: !observed.blockStorage
          ? { state: 'no-block-storage' }
          : st.volume
            ? { state: 'created', id: st.volume.id }
            : { state: 'not-created' },
      }),
    );
  }

  // ---------------------------------------------------------------- create / update

  private async converge(kind: Kind, c: Change, r: Resolved, st: State): Promise<void> {
    const { spec } = r;
    const marked = (name: string) => ({ name, description: spec.marker, tags: [spec.tag] });
    const net = 'cidr' in this.desired.config.seed.network ? this.desired.config.seed.network : undefined;
    this.info(`applying: ${c.action} ${c.address}${c.reason ? ` (${c.reason})` : ''}`);
    switch (kind) {
      case 'security-group': {
        st.sg ??= await this.client.createSecurityGroup(marked(spec.names.securityGroup));
        if (!st.sg.tags.includes(spec.tag)) await this.client.setTags('security-groups', st.sg.id, [spec.tag]);
        return; // the rules are a step of their own
      }
      case 'network': {
        if (!st.network) st.network = await this.client.createNetwork({ ...marked(spec.names.network), mtu: net?.mtu });
        else {
          if (net?.mtu !== undefined && st.network.mtu !== net.mtu)
            st.network = await this.client.updateNetwork(st.network.id, { mtu: net.mtu });
          if (!st.network.tags.includes(spec.tag)) await this.client.setTags('networks', st.network.id, [spec.tag]);
        }
        return;
      }
      case 'subnet': {
        if (!net) return;
        if (!st.subnet || st.subnet.networkId !== st.network!.id) {
          st.subnet = await this.client.createSubnet({
            ...marked(spec.names.subnet),
            networkId: st.network!.id,
            cidr: net.cidr,
            dnsNameservers: net.dnsNameservers,
          });
        } else {
          st.subnet = await this.client.updateSubnet(st.subnet.id, { dnsNameservers: net.dnsNameservers });
          if (!st.subnet.tags.includes(spec.tag)) await this.client.setTags('subnets', st.subnet.id, [spec.tag]);
        }
        return;
      }
      case 'router': {
        const ext = r.externalNetwork!;
        if (!st.router)
          st.router = await this.client.createRouter({ ...marked(spec.names.router), externalNetworkId: ext.id });
        else {
          if (st.router.externalNetworkId !== ext.id)
            st.router = await this.client.setRouterGateway(st.router.id, ext.id);
          if (!st.router.tags.includes(spec.tag)) await this.client.setTags('routers', st.router.id, [spec.tag]);
        }
        return;
      }
      case 'router-interface':
        await this.client.addRouterInterface(st.router!.id, st.subnet!.id);
        return;
      case 'keypair':
        if (c.action === 'replace') await this.client.deleteKeypair(spec.names.keypair);
        await this.client.createKeypair(spec.names.keypair, spec.publicKey);
        return;
      case 'volume': {
        const v = this.desired.config.seed.dataVolume;
        if (!st.volume) {
          st.volume = await this.client.createVolume({
            name: spec.names.volume,
            description: spec.marker,
            size: v.size,
            volumeType: v.type,
            metadata: { [ENV_METADATA_KEY]: spec.tag },
          });
          st.volume = await this.waitVolume(st.volume.id, (x) => x.status === 'available', 'available');
        } else if (v.size > st.volume.size) {
          await this.client.extendVolume(st.volume.id, v.size);
          st.volume = await this.waitVolume(
            st.volume.id,
            (x) => x.size >= v.size && !/extending/.test(x.status),
            `${v.size} GB`,
          );
        }
        return;
      }
      case 'server': {
        if (c.action === 'update' && st.server) {
          await this.client.setServerTags(st.server.id, [...new Set([...st.server.tags, spec.tag])]);
          return;
        }
        if (c.action === 'replace' && st.server) {
          await this.deleteServer(st.server.id);
          st.server = undefined;
        }
        const created = await this.client.createServer({
          name: spec.names.server,
          flavorId: r.flavor.id,
          imageId: r.image.id,
          keyName: spec.names.keypair,
          networkId: st.network!.id,
          securityGroup: st.sg!.id,
          tags: [spec.tag],
          metadata: { [ENV_METADATA_KEY]: spec.tag, [KEY_METADATA_KEY]: spec.keyFingerprint },
        });
        st.server = await this.waitServerActive(created.id);
        return;
      }
      case 'volume-attachment': {
        const server = st.server!;
        const vol = st.volume!;
        const ready = await this.waitVolume(
          vol.id,
          (x) =>
            x.status === 'available' || (x.status === 'in-use' && x.attachments.some((a) => a.serverId === server.id)),
          'available',
        );
        if (!ready.attachments.some((a) => a.serverId === server.id)) await this.client.attachVolume(server.id, vol.id);
        st.volume = await this.waitVolume(
          vol.id,
          (x) => x.status === 'in-use' && x.attachments.some((a) => a.serverId === server.id),
          'in-use',
        );
        return;
      }
      case 'floating-ip': {
        const mode = this.desired.config.seed.floatingIp.mode;
        if (c.action === 'replace' && st.fip) {
          await this.client.deleteFloatingIp(st.fip.id);
          st.fip = undefined;
        }
        if (!st.fip) {
          st.fip = await this.client.createFloatingIp({
            networkId: r.floatingNetwork!.id,
            description: spec.marker,
            tags: [spec.tag],
          });
        } else if (mode === 'allocate' && !st.fip.tags.includes(spec.tag)) {
          await this.client.setTags('floatingips', st.fip.id, [spec.tag]);
        }
        return; // the association is a step of its own, once the server is up
      }
    }
  }

  /** Put the floating IP on the server's port on the seed network, and wait until it is ACTIVE there. */
  private async associate(st: State): Promise<void> {
    const port = await this.serverPort(st.server!, st.network!.id);
    if (st.fip!.portId !== port.id) st.fip = await this.client.associateFloatingIp(st.fip!.id, port.id);
    const { id, address } = st.fip!;
    st.fip = await this.wait(`floating IP ${address} to become ACTIVE`, this.waits.floatingIpMs, async () => {
      const f = await this.client.getFloatingIp(id);
      return f && f.status === 'ACTIVE' && f.portId === port.id ? f : undefined;
    });
  }

  /** Delete rules we do not want, then add the missing ones (a new group comes with the cloud's default egress rules). */
  private async syncRules(sg: SecurityGroup, r: Resolved): Promise<void> {
    const want = new Map(r.spec.rules.map((x) => [ruleKey(x), x]));
    const have = new Set<string>();
    const unwanted: string[] = [];
    for (const rule of sg.rules) {
      const k = ruleKey(rule);
      if (!want.has(k) || have.has(k)) unwanted.push(rule.id);
      else have.add(k);
    }
    // Rules are independent of each other: unwanted ones go and missing ones come at once.
    const missing = [...want].filter(([k]) => !have.has(k)).map(([, rule]) => rule);
    const work: Array<() => Promise<void>> = [
      ...unwanted.map((id) => () => this.client.deleteSecurityGroupRule(id)),
      ...missing.map((rule) => async () => void (await this.client.createSecurityGroupRule(sg.id, rule))),
    ];
    await forEachLimited(work, this.parallelism, (w) => w());
  }

  private async serverPort(server: Server, networkId: string): Promise<Port> {
    return this.wait(`a port of server ${server.name} on the seed network`, this.waits.floatingIpMs, async () => {
      const ports = await this.client.listPorts({ deviceId: server.id, networkId });
      return ports[0];
    });
  }

  private async waitServerActive(id: string): Promise<Server> {
    let last = '';
    return this.wait(
      `server ${this.desired.seedName} to become ACTIVE`,
      this.waits.serverMs,
      async () => {
        const s = await this.client.getServer(id);
        if (!s) throw new Error(`server ${id} disappeared while building`);
        last = s.status;
        if (s.status === 'ERROR')
          throw new Error(
            `server ${s.name} (${id}) went to ERROR${s.fault ? `: ${s.fault}` : ''}; the next run replaces it`,
          );
        return s.status === 'ACTIVE' ? s : undefined;
      },
      () => `status ${last}`,
    );
  }

  private async waitVolume(id: string, ok: (v: Volume) => boolean, what: string): Promise<Volume> {
    let last = '';
    return this.wait(
      `volume ${this.desired.seedName}-data to become ${what}`,
      this.waits.volumeMs,
      async () => {
        const v = await this.client.getVolume(id);
        if (!v) throw new Error(`volume ${id} disappeared`);
        last = v.status;
        if (v.status === 'error' || v.status === 'error_extending')
          throw new Error(`volume ${v.name} (${id}) is in status ${v.status}`);
        return ok(v) ? v : undefined;
      },
      () => `status ${last}`,
    );
  }

  // ---------------------------------------------------------------- delete

  private async remove(kind: Kind, c: Change): Promise<void> {
    const id = idOf(c);
    this.info(`applying: ${isDetach(c) ? 'detach' : 'delete'} ${c.address}`);
    switch (kind) {
      case 'floating-ip':
        if (isDetach(c)) await this.client.associateFloatingIp(id, null);
        else await this.client.deleteFloatingIp(id);
        return;
      case 'server':
        return this.deleteServer(id);
      case 'volume': {
        // Cinder refuses to delete while the volume is still detaching from a deleted server.
        const v = await this.wait(`volume ${id} to be detached`, this.waits.volumeMs, async () => {
          const x = await this.client.getVolume(id);
          return !x || !/ing$|in-use/.test(x.status) ? { gone: !x } : undefined;
        });
        if (!v.gone) await this.client.deleteVolume(id);
        await this.wait(`volume ${id} to be deleted`, this.waits.deleteMs, async () =>
          (await this.client.getVolume(id)) ? undefined : true,
        );
        return;
      }
      case 'keypair':
        return this.client.deleteKeypair(id);
      case 'router-interface':
        return this.detachRouter(id);
      case 'router':
        await this.detachRouter(id);
        return this.whileInUse(`router ${id}`, () => this.client.deleteRouter(id));
      case 'subnet':
        return this.whileInUse(`subnet ${id}`, () => this.client.deleteSubnet(id));
      case 'network':
        return this.whileInUse(`network ${id}`, () => this.client.deleteNetwork(id));
      case 'security-group':
        return this.whileInUse(`security group ${id}`, () => this.client.deleteSecurityGroup(id));
      default:
        throw new Error(`seed-infra: cannot delete ${c.address}`);
    }
  }

  private async detachRouter(routerId: string): Promise<void> {
    const ports = await this.client.listPorts({ deviceId: routerId });
    for (const p of ports.filter((x) => x.deviceOwner.startsWith('network:router_interface'))) {
      for (const f of p.fixedIps) await this.client.removeRouterInterface(routerId, f.subnetId);
    }
  }

  private async deleteServer(id: string): Promise<void> {
    await this.client.deleteServer(id);
    await this.wait(`server ${id} to be deleted`, this.waits.deleteMs, async () =>
      (await this.client.getServer(id)) ? undefined : true,
    );
  }

  /** Neutron says 409 while ports of a just-deleted server linger; try until they are gone. */
  private async whileInUse(what: string, fn: () => Promise<void>): Promise<void> {
    let last = '';
    await this.wait(
      `${what} to be deleted`,
      this.waits.deleteMs,
      async () => {
        try {
          await fn();
          return true;
        } catch (e) {
          if (e instanceof OpenStackApiError && e.status === 409) {
            last = e.detail;
            return undefined;
          }
          throw e;
        }
      },
      () => last,
    );
  }
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Destroy with a fixed floating IP only detaches it (it is not ours to release). */
function isDetach(c: Change): boolean {
  return c.action === 'update' && (c.after as { associated?: boolean } | undefined)?.associated === false;
}

/**
 * Nova (compute v2.1). The microversion is negotiated once per session from
 * the version document: the preferred one capped at the server's maximum.
 */
import { OpenStackApiError } from './errors.js';
import {
  chooseMicroversion,
  compareVersions,
  formatVersion,
  readVersionDocument,
  type Version,
} from './microversion.js';
import type { Reply, Session } from './session.js';
import type { ComputeLimits, Flavor, Keypair, QuotaUsage, Server, ServerSpec, VolumeAttachment } from './types.js';

type Raw = Record<string, unknown>;
const s = (v: unknown): string => (typeof v === 'string' ? v : '');

/** A limit pair from an `absolute` limits document (Nova and Cinder use the same shape). */
export function usage(abs: Raw, max: string, used: string): QuotaUsage {
  const n = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));
  return { limit: abs[max] === undefined ? -1 : n(abs[max]), used: n(abs[used]) };
}

/** 2.26: server tags. 2.52: tags in the create request. 2.90 is the newest we read; never above the server. */
const COMPUTE_MIN: Version = [2, 26];
const COMPUTE_PREFERRED: Version = [2, 90];
const TAGS_ON_CREATE: Version = [2, 52];

function toServer(r: Raw): Server {
  const flavor = (r.flavor ?? {}) as Raw;
  const image = r.image as Raw | string | undefined;
  const addresses: Server['addresses'] = {};
  for (const [net, list] of Object.entries((r.addresses ?? {}) as Record<string, Raw[]>)) {
    addresses[net] = list.map((a) => ({
      addr: s(a.addr),
      type: s(a['OS-EXT-IPS:type']) || 'fixed',
      version: typeof a.version === 'number' ? a.version : 4,
    }));
  }
  return {
    id: s(r.id),
    name: s(r.name),
    status: s(r.status),
    deleting: r['OS-EXT-STS:task_state'] === 'deleting' || s(r.status) === 'DELETED',
    tags: Array.isArray(r.tags) ? (r.tags as string[]) : [],
    metadata: (r.metadata ?? {}) as Record<string, string>,
    flavor: {
      id: s(flavor.id) || undefined,
      name: s(flavor.original_name) || undefined,
      vcpus: typeof flavor.vcpus === 'number' ? flavor.vcpus : undefined,
      ram: typeof flavor.ram === 'number' ? flavor.ram : undefined,
      disk: typeof flavor.disk === 'number' ? flavor.disk : undefined,
    },
    // Boot-from-volume servers have image "" instead of an object.
    imageId: image && typeof image === 'object' ? s(image.id) || null : null,
    keyName: s(r.key_name) || null,
    securityGroups: Array.isArray(r.security_groups) ? (r.security_groups as Raw[]).map((g) => s(g.name)) : [],
    addresses,
    fault: r.fault ? s((r.fault as Raw).message) : undefined,
  };
}

export class NovaApi {
  private version?: Promise<Version>;

  constructor(private readonly session: Session) {}

  /** The microversion this session speaks to Nova. */
  microversion(): Promise<Version> {
    this.version ??= this.negotiate().catch((e: unknown) => {
      this.version = undefined;
      throw e;
    });
    return this.version;
  }

  private async negotiate(): Promise<Version> {
    const url = await this.session.endpoint('compute');
    // The catalog URL may end in the project id; the version document sits at the versioned root.
    const root = url.replace(/(\/v2(?:\.\d+)?)(?:\/[^/]+)?$/, '$1');
    const r = await this.session.request('compute', 'GET', `${root}/`);
    const range = readVersionDocument(r.body, 'v2.1');
    return chooseMicroversion('compute', range, { min: COMPUTE_MIN, preferred: COMPUTE_PREFERRED });
  }

  private async req(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    o: Parameters<Session['request']>[3] = {},
  ): Promise<Reply> {
    const v = formatVersion(await this.microversion());
    return this.session.request('compute', method, path, {
      ...o,
      headers: { 'OpenStack-API-Version': `compute ${v}`, 'X-OpenStack-Nova-API-Version': v, ...o.headers },
    });
  }

  async listFlavors(): Promise<Flavor[]> {
    const r = await this.req('GET', '/flavors/detail');
    return ((r.body?.flavors ?? []) as Raw[]).map((f) => ({
      id: s(f.id),
      name: s(f.name),
      vcpus: Number(f.vcpus),
      ram: Number(f.ram),
      disk: Number(f.disk),
    }));
  }

  // --- keypairs ---
  async getKeypair(name: string): Promise<Keypair | undefined> {
    const r = await this.req('GET', `/os-keypairs/${encodeURIComponent(name)}`, { accept: [404] });
    if (r.status === 404) return undefined;
    const k = r.body.keypair as Raw;
    return { name: s(k.name), publicKey: s(k.public_key), fingerprint: s(k.fingerprint) };
  }
  async createKeypair(name: string, publicKey: string): Promise<Keypair> {
    const lookup = async (): Promise<Reply | undefined> => {
      const k = await this.getKeypair(name);
      return k
        ? { status: 200, body: { keypair: { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint } } }
        : undefined;
    };
    const r = await this.req('POST', '/os-keypairs', {
      body: { keypair: { name, public_key: publicKey } },
      lookup,
      accept: [409],
    });
    const reply = r.status === 409 ? await lookup() : r;
    if (!reply) throw new Error(`compute: keypair ${name} reported as existing but not found`);
    const k = reply.body.keypair as Raw;
    return { name: s(k.name), publicKey: s(k.public_key) || publicKey, fingerprint: s(k.fingerprint) };
  }
  async deleteKeypair(name: string): Promise<void> {
    await this.req('DELETE', `/os-keypairs/${encodeURIComponent(name)}`, { accept: [404] });
  }

  // --- servers ---
  async listServers(f: { name: string }): Promise<Server[]> {
    // Nova's name filter is a regular expression: anchor it.
    const r = await this.req('GET', '/servers/detail', { query: { name: `^${escapeRegex(f.name)}$` } });
    return ((r.body?.servers ?? []) as Raw[]).map(toServer).filter((x) => x.name === f.name);
  }
  async listServersByPrefix(prefix: string): Promise<Server[]> {
    const r = await this.req('GET', '/servers/detail', { query: { name: `^${escapeRegex(prefix)}` } });
    return ((r.body?.servers ?? []) as Raw[]).map(toServer).filter((x) => x.name.startsWith(prefix));
  }
  async computeLimits(): Promise<ComputeLimits> {
    const r = await this.req('GET', '/limits');
    const abs = ((r.body?.limits as Raw | undefined)?.absolute ?? {}) as Raw;
    return {
      instances: usage(abs, 'maxTotalInstances', 'totalInstancesUsed'),
      cores: usage(abs, 'maxTotalCores', 'totalCoresUsed'),
      ramMb: usage(abs, 'maxTotalRAMSize', 'totalRAMUsed'),
    };
  }
  async getServer(id: string): Promise<Server | undefined> {
    const r = await this.req('GET', `/servers/${id}`, { accept: [404] });
    return r.status === 404 ? undefined : toServer(r.body.server as Raw);
  }
  async createServer(spec: ServerSpec): Promise<Server> {
    const v = await this.microversion();
    const tagsOnCreate = compareVersions(v, TAGS_ON_CREATE) >= 0;
    const body: Raw = {
      name: spec.name,
      flavorRef: spec.flavorId,
      imageRef: spec.imageId,
      key_name: spec.keyName,
      networks: [{ uuid: spec.networkId }],
      security_groups: [{ name: spec.securityGroup }],
      metadata: spec.metadata,
    };
    if (tagsOnCreate) body.tags = spec.tags;
    if (spec.userData) body.user_data = Buffer.from(spec.userData).toString('base64');
    const markerKey = Object.keys(spec.metadata)[0];
    const lookup = async (): Promise<Reply | undefined> => {
      const hit = (await this.listServers({ name: spec.name })).find(
        (x) => markerKey !== undefined && x.metadata[markerKey] === spec.metadata[markerKey],
      );
      return hit ? { status: 202, body: { server: { id: hit.id } } } : undefined;
    };
    const r = await this.req('POST', '/servers', { body: { server: body }, lookup });
    const id = s((r.body.server as Raw).id);
    if (!tagsOnCreate) await this.setServerTags(id, spec.tags);
    const server = await this.getServer(id);
    if (!server) throw new Error(`compute: server ${spec.name} (${id}) vanished right after it was created`);
    return server;
  }
  async setServerTags(id: string, tags: string[]): Promise<void> {
    await this.req('PUT', `/servers/${id}/tags`, { body: { tags } });
  }
  async deleteServer(id: string): Promise<void> {
    await this.req('DELETE', `/servers/${id}`, { accept: [404] });
  }

  // --- volume attachments ---
  async listVolumeAttachments(serverId: string): Promise<VolumeAttachment[]> {
    const r = await this.req('GET', `/servers/${serverId}/os-volume_attachments`, { accept: [404] });
    if (r.status === 404) return [];
    return ((r.body?.volumeAttachments ?? []) as Raw[]).map((a) => ({
      id: s(a.id),
      serverId: s(a.serverId),
      volumeId: s(a.volumeId),
      device: s(a.device) || undefined,
    }));
  }
  async attachVolume(serverId: string, volumeId: string): Promise<VolumeAttachment> {
    const lookup = async (): Promise<Reply | undefined> => {
      const hit = (await this.listVolumeAttachments(serverId)).find((a) => a.volumeId === volumeId);
      return hit ? { status: 200, body: { volumeAttachment: hit } } : undefined;
    };
    try {
      const r = await this.req('POST', `/servers/${serverId}/os-volume_attachments`, {
        body: { volumeAttachment: { volumeId } },
        lookup,
      });
      const a = r.body.volumeAttachment as Raw;
      return {
        id: s(a.id),
        serverId: s(a.serverId) || serverId,
        volumeId: s(a.volumeId) || volumeId,
        device: s(a.device) || undefined,
      };
    } catch (e) {
      // A repeat after a lost answer: Nova says the volume is busy/attached; if it is attached here, done.
      if (e instanceof OpenStackApiError && (e.status === 400 || e.status === 409)) {
        const hit = await lookup();
        if (hit) return hit.body.volumeAttachment as VolumeAttachment;
      }
      throw e;
    }
  }
  async detachVolume(serverId: string, volumeId: string): Promise<void> {
    await this.req('DELETE', `/servers/${serverId}/os-volume_attachments/${volumeId}`, { accept: [404] });
  }
}

function escapeRegex(v: string): string {
  return v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

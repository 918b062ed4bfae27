/** Glance (image v2) and Cinder (block-storage v3). */
import { chooseMicroversion, formatVersion, readVersionDocument, type Version } from './microversion.js';
import type { Reply, Session } from './session.js';
import { usage } from './compute.js';
import type { Image, Volume, VolumeLimits, VolumeSpec } from './types.js';

type Raw = Record<string, unknown>;
const s = (v: unknown): string => (typeof v === 'string' ? v : '');

export class GlanceApi {
  constructor(private readonly session: Session) {}

  private static toImage(r: Raw): Image {
    return { id: s(r.id), name: s(r.name), status: s(r.status) };
  }

  async findImages(ref: { name?: string; id?: string }): Promise<Image[]> {
    if (ref.id) {
      const r = await this.session.request('image', 'GET', `/images/${encodeURIComponent(ref.id)}`, { accept: [404] });
      return r.status === 404 ? [] : [GlanceApi.toImage(r.body as Raw)];
    }
    const r = await this.session.request('image', 'GET', '/images', { query: { name: ref.name, limit: 100 } });
    return ((r.body?.images ?? []) as Raw[]).map(GlanceApi.toImage);
  }

  async listImageNames(): Promise<string[]> {
    const r = await this.session.request('image', 'GET', '/images', { query: { limit: 500 } });
    return ((r.body?.images ?? []) as Raw[]).map((i) => s(i.name)).filter((n) => n !== '');
  }
}

/** 3.42 lets an attached (in-use) volume grow. */
const EXTEND_IN_USE: Version = [3, 42];

export class CinderApi {
  constructor(private readonly session: Session) {}

  static toVolume(r: Raw): Volume {
    return {
      id: s(r.id),
      name: s(r.name),
      status: s(r.status),
      size: Number(r.size),
      volumeType: s(r.volume_type) || null,
      metadata: (r.metadata ?? {}) as Record<string, string>,
      attachments: Array.isArray(r.attachments)
        ? (r.attachments as Raw[]).map((a) => ({ serverId: s(a.server_id), device: s(a.device) || undefined }))
        : [],
    };
  }

  async listVolumes(f: { name: string }): Promise<Volume[]> {
    const r = await this.session.request('block-storage', 'GET', '/volumes/detail', { query: { name: f.name } });
    return ((r.body?.volumes ?? []) as Raw[]).map(CinderApi.toVolume).filter((v) => v.name === f.name);
  }

  async getVolume(id: string): Promise<Volume | undefined> {
    const r = await this.session.request('block-storage', 'GET', `/volumes/${id}`, { accept: [404] });
    return r.status === 404 ? undefined : CinderApi.toVolume(r.body.volume as Raw);
  }

  async createVolume(spec: VolumeSpec): Promise<Volume> {
    // Cinder has no tags: the metadata marker is the identity.
    const [mk, mv] = Object.entries(spec.metadata)[0] ?? [];
    const lookup = async (): Promise<Reply | undefined> => {
      const hit = (await this.listVolumes({ name: spec.name })).find((v) => mk !== undefined && v.metadata[mk] === mv);
      return hit ? { status: 202, body: { volume: { ...hit, id: hit.id } } } : undefined;
    };
    const body: Raw = { name: spec.name, description: spec.description, size: spec.size, metadata: spec.metadata };
    if (spec.volumeType) body.volume_type = spec.volumeType;
    const r = await this.session.request('block-storage', 'POST', '/volumes', { body: { volume: body }, lookup });
    const raw = r.body.volume as Raw;
    // A looked-up volume is already in our shape; a fresh one is raw JSON.
    return 'volumeType' in raw ? (raw as unknown as Volume) : CinderApi.toVolume(raw);
  }

  async extendVolume(id: string, size: number): Promise<void> {
    const root = (await this.session.endpoint('block-storage')).replace(/(\/v3)(?:\/[^/]+)?$/, '$1');
    const doc = await this.session.request('block-storage', 'GET', `${root}/`, { accept: [300] });
    const v = chooseMicroversion('block-storage', readVersionDocument(doc.body, 'v3.0'), {
      min: [3, 0],
      preferred: EXTEND_IN_USE,
    });
    const lookup = async (): Promise<Reply | undefined> => {
      const vol = await this.getVolume(id);
      return vol && vol.size >= size ? { status: 202, body: {} } : undefined;
    };
    await this.session.request('block-storage', 'POST', `/volumes/${id}/action`, {
      body: { 'os-extend': { new_size: size } },
      headers: { 'OpenStack-API-Version': `volume ${formatVersion(v)}` },
      lookup,
    });
  }

  async deleteVolume(id: string): Promise<void> {
    await this.session.request('block-storage', 'DELETE', `/volumes/${id}`, { accept: [404] });
  }

  async volumeLimits(): Promise<VolumeLimits> {
    const r = await this.session.request('block-storage', 'GET', '/limits');
    const abs = ((r.body?.limits as Raw | undefined)?.absolute ?? {}) as Raw;
    return {
      volumes: usage(abs, 'maxTotalVolumes', 'totalVolumesUsed'),
      gigabytes: usage(abs, 'maxTotalVolumeGigabytes', 'totalGigabytesUsed'),
    };
  }
}

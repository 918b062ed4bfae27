/**
 * The lock before the seed exists: marker objects on the OpenStack side (a
 * security group named `<name>` whose description holds the holder and the
 * expiry). Neutron names are not unique, so taking the lock is "create
 * ours, then look": whoever sees another live marker besides its own backs
 * off and removes its own. Two runs can both back off (and retry after a
 * random pause), but they cannot both win, because the later of two
 * creates is always followed by a listing that sees the earlier one.
 */
import type { Marked } from '../openstack/types.js';
import { sleep } from '../util/wait.js';
import { isExpired, type AcquireResult, type LockBackend, type LockState } from './types.js';

/** What this needs of an OpenStack client (src/openstack's NeutronApi and OpenStackClient satisfy it). */
export interface MarkerStore {
  listSecurityGroups(filter: { name: string }): Promise<Array<{ id: string; name: string; description: string }>>;
  createSecurityGroup(spec: Marked): Promise<{ id: string }>;
  deleteSecurityGroup(id: string): Promise<void>;
}

interface Marker extends LockState {
  id: string;
}

const PREFIX = 'capi-mgmt lock ';

function parse(g: { id: string; description: string }): Marker | undefined {
  if (!g.description.startsWith(PREFIX)) return undefined;
  try {
    const v = JSON.parse(g.description.slice(PREFIX.length)) as { holder?: unknown; expiresAt?: unknown };
    if (typeof v.holder !== 'string' || typeof v.expiresAt !== 'string') return undefined;
    return { id: g.id, holder: v.holder, expiresAt: new Date(v.expiresAt) };
  } catch {
    return undefined;
  }
}

export class OpenStackMarkerLock implements LockBackend {
  readonly description: string;

  constructor(
    private readonly store: MarkerStore,
    private readonly name: string,
  ) {
    this.description = `lock marker (security group ${name}) on OpenStack`;
  }

  private async markers(abandoned?: (s: LockState) => boolean): Promise<Marker[]> {
    const all = (await this.store.listSecurityGroups({ name: this.name })).filter((g) => g.name === this.name);
    const live: Marker[] = [];
    for (const g of all) {
      const m = parse(g);
      if (!m) continue;
      // A crashed run's marker: take it over by removing it.
      if (isExpired(m) || abandoned?.(m)) await this.store.deleteSecurityGroup(m.id);
      else live.push(m);
    }
    return live;
  }

  private async create(holder: string, ttlSeconds: number): Promise<string> {
    const expiresAt = new Date(Date.now() + ttlSeconds * 1000).toISOString();
    const g = await this.store.createSecurityGroup({
      name: this.name,
      description: `${PREFIX}${JSON.stringify({ holder, expiresAt })}`,
      tags: [],
    });
    return g.id;
  }

  async tryAcquire(holder: string, ttlSeconds: number, abandoned?: (s: LockState) => boolean): Promise<AcquireResult> {
    const before = await this.markers(abandoned);
    const other = before.find((m) => m.holder !== holder);
    if (other) return { ok: false, current: other };
    if (before.length > 0) return { ok: true }; // already ours
    const id = await this.create(holder, ttlSeconds);
    const rival = (await this.markers()).find((m) => m.holder !== holder);
    if (!rival) return { ok: true };
    await this.store.deleteSecurityGroup(id);
    // Both racers may have backed off: a random pause lets one go first next time.
    await sleep(Math.random() * 2000);
    return { ok: false, current: rival };
  }

  /** Description cannot be edited through the small interface: add a fresh marker, drop the old ones. */
  async renew(holder: string, ttlSeconds: number): Promise<void> {
    const mine = (await this.markers()).filter((m) => m.holder === holder);
    if (mine.length === 0) throw new Error(`${this.description} is no longer ours`);
    await this.create(holder, ttlSeconds);
    for (const m of mine) await this.store.deleteSecurityGroup(m.id);
  }

  async release(holder: string): Promise<void> {
    for (const m of await this.markers()) if (m.holder === holder) await this.store.deleteSecurityGroup(m.id);
  }
}

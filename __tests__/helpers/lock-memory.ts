/** In-memory lock places for unit tests: a LockBackend and a Neutron-like marker store. */
import type { AcquireResult, LockBackend, LockState } from '../../src/lock/types.js';
import type { MarkerStore } from '../../src/lock/openstack-marker.js';

export class MemoryLock implements LockBackend {
  state?: LockState;
  log: string[] = [];
  constructor(readonly description: string) {}
  async tryAcquire(holder: string, ttl: number): Promise<AcquireResult> {
    if (this.state && this.state.holder !== holder && this.state.expiresAt.getTime() > Date.now())
      return { ok: false, current: this.state };
    this.state = { holder, expiresAt: new Date(Date.now() + ttl * 1000) };
    this.log.push(`acquire ${holder}`);
    return { ok: true };
  }
  async renew(holder: string, ttl: number): Promise<void> {
    if (this.state?.holder !== holder) throw new Error('not ours');
    this.state = { holder, expiresAt: new Date(Date.now() + ttl * 1000) };
  }
  async release(holder: string): Promise<void> {
    if (this.state?.holder === holder) this.state = undefined;
    this.log.push(`release ${holder}`);
  }
}

/** Security groups by name, like Neutron: names are not unique. */
export class MemoryMarkerStore implements MarkerStore {
  groups: Array<{ id: string; name: string; description: string }> = [];
  private n = 0;
  /** Called between operations so a test can interleave two racers. */
  hook?: (op: string) => Promise<void>;
  async listSecurityGroups(f: { name: string }) {
    await this.hook?.('list');
    return this.groups.filter((g) => g.name === f.name).map((g) => ({ ...g }));
  }
  async createSecurityGroup(spec: { name: string; description: string; tags: string[] }) {
    await this.hook?.('create');
    const g = { id: `sg-${++this.n}`, name: spec.name, description: spec.description };
    this.groups.push(g);
    return { id: g.id };
  }
  async deleteSecurityGroup(id: string) {
    this.groups = this.groups.filter((g) => g.id !== id);
  }
}

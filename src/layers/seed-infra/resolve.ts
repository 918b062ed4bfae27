/**
 * Turning references in the config (flavor, image, external network) into
 * the cloud's objects, from what observe listed. Pure: errors name the
 * closest existing names so a typo is easy to fix.
 */
import type { Environment } from '../../model/schema.js';
import { NotFoundError } from '../../openstack/errors.js';
import type { Flavor, Image, Network } from '../../openstack/types.js';

/** The smallest flavor that can run K3s and Cluster API comfortably. */
const AUTO_FLAVOR_MIN = { vcpus: 2, ram: 8192, disk: 20 } as const;

type FlavorRef = Environment['seed']['flavor'];

export function pickFlavor(ref: FlavorRef, flavors: readonly Flavor[]): Flavor {
  if (ref === 'auto') {
    const fits = flavors
      .filter((f) => f.vcpus >= AUTO_FLAVOR_MIN.vcpus && f.ram >= AUTO_FLAVOR_MIN.ram && f.disk >= AUTO_FLAVOR_MIN.disk)
      .sort((a, b) => a.ram - b.ram || a.vcpus - b.vcpus || a.disk - b.disk || a.name.localeCompare(b.name));
    const best = fits[0];
    if (!best) {
      throw new Error(
        `seed.flavor: auto found no flavor with at least ${AUTO_FLAVOR_MIN.vcpus} vCPU, ${AUTO_FLAVOR_MIN.ram} MB RAM and ${AUTO_FLAVOR_MIN.disk} GB disk among ${flavors.length} flavor(s) (${flavors.map((f) => f.name).join(', ') || 'none'}); set seed.flavor to {name: ...}`,
      );
    }
    return best;
  }
  if ('id' in ref) {
    const f = flavors.find((x) => x.id === ref.id);
    if (!f)
      throw new NotFoundError(
        'seed.flavor: flavor id',
        ref.id,
        flavors.map((x) => x.id),
      );
    return f;
  }
  const matches = flavors.filter((x) => x.name === ref.name);
  if (matches.length > 1) {
    throw new Error(
      `seed.flavor: ${matches.length} flavors are named "${ref.name}" (${matches.map((m) => m.id).join(', ')}); use {id: ...}`,
    );
  }
  if (!matches[0])
    throw new NotFoundError(
      'seed.flavor: flavor',
      ref.name,
      flavors.map((x) => x.name),
    );
  return matches[0];
}

export function pickImage(
  ref: { name?: string; id?: string },
  found: readonly Image[],
  allNames: readonly string[],
): Image {
  const key = ref.id ?? ref.name ?? '';
  const usable = found.filter((i) => (ref.id ? i.id === ref.id : i.name === ref.name));
  if (usable.length === 0) {
    throw new NotFoundError(`seed.image: image${ref.id ? ' id' : ''}`, key, ref.id ? [] : allNames);
  }
  const active = usable.filter((i) => i.status === 'active');
  if (active.length === 0) throw new Error(`seed.image: image "${key}" exists but is ${usable[0]!.status}, not active`);
  if (active.length > 1) {
    throw new Error(
      `seed.image: ${active.length} active images are named "${key}" (${active.map((i) => i.id).join(', ')}); use {id: ...}`,
    );
  }
  return active[0]!;
}

/** The configured external network, or the cloud's only one. */
export function pickExternalNetwork(
  ref: { name?: string; id?: string } | undefined,
  external: readonly Network[],
): Network {
  if (ref) {
    const hits = external.filter((n) => (ref.id ? n.id === ref.id : n.name === ref.name));
    const key = ref.id ?? ref.name ?? '';
    if (hits.length === 0) {
      throw new NotFoundError(
        'seed.externalNetwork: external network',
        key,
        external.map((n) => (ref.id ? n.id : n.name)),
      );
    }
    if (hits.length > 1) {
      throw new Error(
        `seed.externalNetwork: ${hits.length} external networks are named "${key}" (${hits.map((n) => n.id).join(', ')}); use {id: ...}`,
      );
    }
    return hits[0]!;
  }
  if (external.length === 0) {
    throw new Error(
      'seed.externalNetwork: the cloud has no external network; the seed needs one for its router and floating IP',
    );
  }
  if (external.length > 1) {
    throw new Error(
      `seed.externalNetwork: the cloud has ${external.length} external networks (${external.map((n) => `${n.name} ${n.id}`).join(', ')}); choose one with seed.externalNetwork: {name: ...}`,
    );
  }
  return external[0]!;
}

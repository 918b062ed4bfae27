import type { Environment } from './schema.js';

/**
 * The validated environment plus the names derived from it. Layers read
 * their desired state from here and nowhere else.
 */
export interface Desired {
  /** Environment name, e.g. `prod`. */
  name: string;
  /** Absolute path of the environment directory. */
  dir: string;
  config: Environment;
  /** Name of the seed VM and of every seed OpenStack resource (azimuth: `capi-mgmt-<env>-seed`). */
  seedName: string;
  /** Helm release and CAPI Cluster name of the HA cluster (azimuth: `capi-mgmt-<env>`). */
  clusterName: string;
  /** The tag every OpenStack resource of this environment carries; observe finds resources by it. */
  tag: string;
}

export function toDesired(config: Environment, where: { name: string; dir: string }): Desired {
  return {
    name: where.name,
    dir: where.dir,
    config,
    seedName: config.seed.name ?? `capi-mgmt-${where.name}-seed`,
    clusterName: config.cluster.name ?? `capi-mgmt-${where.name}`,
    tag: `capi-mgmt:${where.name}`,
  };
}

/**
 * Every object of a manifest bundle carries the source and version it came
 * from, so observe can read back what is installed without any state of
 * our own; bundles installed by others (clusterctl, azimuth-ops) are told
 * apart by the missing stamp and read by their image tag.
 */
import type { KubeObject } from '../kube/index.js';

export const VERSION_ANNOTATION = 'capi-mgmt.io/version';
export const COMPONENT_LABEL = 'capi-mgmt.io/component';

export function stampComponent(objects: readonly KubeObject[], source: string, version: string): KubeObject[] {
  return objects.map((o) => ({
    ...o,
    metadata: {
      ...o.metadata,
      labels: { ...o.metadata.labels, [COMPONENT_LABEL]: source },
      annotations: { ...o.metadata.annotations, [VERSION_ANNOTATION]: version },
    },
  }));
}

type Container = { name?: string; image?: unknown };

function containersOf(d: KubeObject): Container[] {
  const spec = d.spec as { template?: { spec?: { containers?: Container[] } } } | undefined;
  return spec?.template?.spec?.containers ?? [];
}

/** The version a controller Deployment runs: our stamp, else its image tag (installed by someone else). */
export function deploymentVersion(d: KubeObject): { version?: string; managed: boolean } {
  const stamped = d.metadata.annotations?.[VERSION_ANNOTATION];
  if (stamped) return { version: stamped, managed: true };
  const image = containersOf(d).find((c) => c.name === 'manager')?.image ?? containersOf(d)[0]?.image;
  const tag = typeof image === 'string' && image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : undefined;
  return { version: tag, managed: false };
}

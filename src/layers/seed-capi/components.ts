/**
 * What seed-capi installs, derived from desired state alone (pure): the
 * components in install order, with versions, namespaces, controllers and
 * chart values as azimuth-ops sets them on the seed.
 */
import type { Desired } from '../../model/desired.js';
import type { ChartComponent, ManifestComponent } from '../../tools/artifacts.js';

export interface DeploymentRef {
  namespace: string;
  name: string;
}

interface Common {
  /** Plan address: `release/<name>` or `provider/<name>`. */
  address: string;
  /** Human name, e.g. "cert-manager". */
  title: string;
  version: string;
  /** The Deployments that must be Available once the component is applied. */
  controllers: DeploymentRef[];
}

export interface ManifestSpec extends Common {
  kind: 'manifest';
  component: ManifestComponent;
}

export interface ChartSpec extends Common {
  kind: 'chart';
  component: ChartComponent;
  release: string;
  namespace: string;
  values: Record<string, unknown>;
  /** Roll back a failed upgrade (azimuth: addon provider and janitor). */
  atomic: boolean;
  timeoutMs: number;
}

export type ComponentSpec = ManifestSpec | ChartSpec;

const MINUTE = 60_000;

/** cert-manager as azimuth-ops installs it on the seed: CRDs from the chart, no monitoring, no issuer. */
export function certManagerValues(): Record<string, unknown> {
  return {
    installCRDs: true,
    config: {
      apiVersion: 'controller.config.cert-manager.io/v1alpha1',
      kind: 'ControllerConfiguration',
      featureGates: { ACMEHTTP01IngressPathTypeExact: false },
    },
    prometheus: { enabled: false },
  };
}

export function desiredComponents(desired: Desired): ComponentSpec[] {
  const v = desired.config.versions;
  return [
    {
      kind: 'chart',
      component: 'certManager',
      address: 'release/cert-manager',
      title: 'cert-manager',
      release: 'cert-manager',
      namespace: 'cert-manager',
      version: v.certManager,
      values: certManagerValues(),
      atomic: false,
      timeoutMs: 10 * MINUTE,
      controllers: ['cert-manager', 'cert-manager-cainjector', 'cert-manager-webhook'].map((name) => ({
        namespace: 'cert-manager',
        name,
      })),
    },
    {
      kind: 'manifest',
      component: 'capi',
      address: 'provider/cluster-api',
      title: 'Cluster API core + kubeadm',
      version: v.capi,
      controllers: [
        { namespace: 'capi-system', name: 'capi-controller-manager' },
        { namespace: 'capi-kubeadm-bootstrap-system', name: 'capi-kubeadm-bootstrap-controller-manager' },
        { namespace: 'capi-kubeadm-control-plane-system', name: 'capi-kubeadm-control-plane-controller-manager' },
      ],
    },
    {
      kind: 'manifest',
      component: 'orc',
      address: 'provider/openstack-resource-controller',
      title: 'OpenStack Resource Controller',
      version: v.orc,
      controllers: [{ namespace: 'orc-system', name: 'orc-controller-manager' }],
    },
    {
      kind: 'manifest',
      component: 'capo',
      address: 'provider/cluster-api-provider-openstack',
      title: 'Cluster API Provider OpenStack',
      version: v.capo,
      controllers: [{ namespace: 'capo-system', name: 'capo-controller-manager' }],
    },
    {
      kind: 'chart',
      component: 'addonProvider',
      address: 'release/cluster-api-addon-provider',
      title: 'cluster-api-addon-provider',
      release: 'cluster-api-addon-provider',
      namespace: 'capi-addon-system',
      version: v.addonProvider,
      values: {},
      atomic: true,
      timeoutMs: 30 * MINUTE,
      controllers: [{ namespace: 'capi-addon-system', name: 'cluster-api-addon-provider' }],
    },
    {
      kind: 'chart',
      component: 'janitor',
      address: 'release/cluster-api-janitor-openstack',
      title: 'cluster-api-janitor-openstack',
      release: 'cluster-api-janitor-openstack',
      namespace: 'capi-janitor-system',
      version: v.janitor,
      values: {},
      atomic: true,
      timeoutMs: 30 * MINUTE,
      controllers: [{ namespace: 'capi-janitor-system', name: 'cluster-api-janitor-openstack' }],
    },
  ];
}

/** The old CAPO webhook azimuth-ops removes; it would intercept objects nothing serves any more. */
export const LEGACY_WEBHOOK = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'MutatingWebhookConfiguration',
  name: 'capo-mutating-webhook-configuration',
} as const;
export const LEGACY_WEBHOOK_ADDRESS = `webhook/${LEGACY_WEBHOOK.name}`;

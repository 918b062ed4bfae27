/**
 * The CAPI management stack as a component list (pure): cert-manager, CAPI
 * core + kubeadm, ORC, CAPO, the addon provider and the janitor, in install
 * order, with namespaces, controllers and chart values as azimuth-ops sets
 * them, and the legacy CAPO webhook it removes. Any cluster that is to
 * manage clusters gets this same list.
 */
import type { Desired } from '../../model/desired.js';
import type { Component } from '../types.js';
import { renderProvider } from './providers.js';

const MINUTE = 60_000;

/** cert-manager as azimuth-ops installs it for CAPI: CRDs from the chart, no monitoring, no issuer. */
function certManagerValues(): Record<string, unknown> {
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

/** The old CAPO webhook azimuth-ops removes; it would intercept objects nothing serves any more. */
const LEGACY_CAPO_WEBHOOK = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'MutatingWebhookConfiguration',
  name: 'capo-mutating-webhook-configuration',
} as const;

type Versions = Desired['config']['versions'];

export function capiStack(
  v: Pick<Versions, 'certManager' | 'capi' | 'orc' | 'capo' | 'addonProvider' | 'janitor'>,
): Component[] {
  return [
    {
      kind: 'chart',
      source: 'certManager',
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
      source: 'capi',
      address: 'provider/cluster-api',
      title: 'Cluster API core + kubeadm',
      version: v.capi,
      render: (text) => renderProvider('capi', v.capi, text),
      controllers: [
        { namespace: 'capi-system', name: 'capi-controller-manager' },
        { namespace: 'capi-kubeadm-bootstrap-system', name: 'capi-kubeadm-bootstrap-controller-manager' },
        { namespace: 'capi-kubeadm-control-plane-system', name: 'capi-kubeadm-control-plane-controller-manager' },
      ],
    },
    {
      kind: 'manifest',
      source: 'orc',
      address: 'provider/openstack-resource-controller',
      title: 'OpenStack Resource Controller',
      version: v.orc,
      render: (text) => renderProvider('orc', v.orc, text),
      controllers: [{ namespace: 'orc-system', name: 'orc-controller-manager' }],
    },
    {
      kind: 'manifest',
      source: 'capo',
      address: 'provider/cluster-api-provider-openstack',
      title: 'Cluster API Provider OpenStack',
      version: v.capo,
      render: (text) => renderProvider('capo', v.capo, text),
      controllers: [{ namespace: 'capo-system', name: 'capo-controller-manager' }],
    },
    {
      kind: 'chart',
      source: 'addonProvider',
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
      source: 'janitor',
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
    {
      kind: 'absent',
      address: `webhook/${LEGACY_CAPO_WEBHOOK.name}`,
      title: 'legacy CAPO webhook',
      ref: LEGACY_CAPO_WEBHOOK,
      reason: 'legacy CAPO webhook that nothing serves any more (azimuth-ops removes it too)',
    },
  ];
}

import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { resolvePlaceholders, rewriteProviderManifest } from '../../test/lab/capi/rewrite-manifests.js';

// A miniature of what `kustomize build config/default` gives for a provider.
const RENDERED = `apiVersion: v1
kind: Namespace
metadata:
  name: demo-system
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    cert-manager.io/inject-ca-from: demo-system/demo-serving-cert
    controller-gen.kubebuilder.io/version: v0.21.0
  labels:
    cluster.x-k8s.io/v1beta1: v1beta1
  name: widgets.demo.x-k8s.io
spec:
  conversion:
    strategy: Webhook
    webhook:
      clientConfig:
        service:
          name: demo-webhook-service
          namespace: demo-system
          path: /convert
      conversionReviewVersions:
      - v1
  versions:
  - name: v1beta1
    schema:
      openAPIV3Schema:
        properties:
          mode:
            enum:
            - "on"
            - "off"
            type: string
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-controller-manager
  namespace: demo-system
spec:
  template:
    spec:
      serviceAccountName: demo-manager
      containers:
      - args:
        - --leader-elect
        - --feature-gates=MachinePool=\${EXP_MACHINE_POOL:=true},Other=\${OTHER:=false}
        image: gcr.io/k8s-staging/demo:dev
        imagePullPolicy: Always
        name: manager
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: demo-serving-cert
  namespace: demo-system
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: demo-selfsigned-issuer
  namespace: demo-system
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  annotations:
    cert-manager.io/inject-ca-from: demo-system/demo-serving-cert
  name: demo-validating-webhook-configuration
webhooks:
- admissionReviewVersions:
  - v1
  clientConfig:
    service:
      name: demo-webhook-service
      namespace: demo-system
      path: /validate-demo-x-k8s-io-v1beta1-widget
  failurePolicy: Fail
  name: validation.widget.demo.x-k8s.io
`;

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const OPTS = { webhookUrl: 'https://127.0.0.1:61443', caPem: CA, image: 'registry.k8s.io/demo/demo-controller:v1.2.3' };

function objects(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
}

/** The value at a path of keys and indexes, or undefined. */
function dig(value: unknown, ...path: (string | number)[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], value);
}

describe('lab CAPI manifest rewrite', () => {
  const result = rewriteProviderManifest(RENDERED, OPTS);
  const out = objects(result.yaml);
  const byKind = (k: string) => out.find((o) => o.kind === k);

  it('drops the cert-manager objects and keeps everything else', () => {
    expect(out.map((o) => o.kind)).toEqual([
      'Namespace',
      'CustomResourceDefinition',
      'Deployment',
      'ValidatingWebhookConfiguration',
    ]);
  });

  it('points conversion and admission webhooks at the host process with the lab CA', () => {
    const caBundle = Buffer.from(CA).toString('base64');
    const crd = byKind('CustomResourceDefinition');
    expect(dig(crd, 'spec', 'conversion', 'webhook', 'clientConfig')).toEqual({
      url: 'https://127.0.0.1:61443/convert',
      caBundle,
    });
    expect(dig(byKind('ValidatingWebhookConfiguration'), 'webhooks', 0, 'clientConfig')).toEqual({
      url: 'https://127.0.0.1:61443/validate-demo-x-k8s-io-v1beta1-widget',
      caBundle,
    });
  });

  it('removes the CA injection annotation but keeps labels and other annotations', () => {
    const crd = byKind('CustomResourceDefinition');
    expect(dig(crd, 'metadata', 'annotations')).toEqual({ 'controller-gen.kubebuilder.io/version': 'v0.21.0' });
    expect(dig(crd, 'metadata', 'labels')).toEqual({ 'cluster.x-k8s.io/v1beta1': 'v1beta1' });
    expect(dig(byKind('ValidatingWebhookConfiguration'), 'metadata')).toEqual({
      name: 'demo-validating-webhook-configuration',
    });
  });

  it('keeps quoted scalars quoted, so YAML 1.1 readers still see strings', () => {
    expect(result.yaml).toContain('- "on"');
    expect(result.yaml).toContain('- "off"');
  });

  it('sets the release image and returns the release args (defaults resolved) and ServiceAccount', () => {
    const c = dig(byKind('Deployment'), 'spec', 'template', 'spec', 'containers', 0);
    expect(dig(c, 'image')).toBe(OPTS.image);
    expect(dig(c, 'imagePullPolicy')).toBe('IfNotPresent');
    expect(dig(c, 'args', 1)).toContain('${EXP_MACHINE_POOL:=true}');
    expect(result.args).toEqual(['--leader-elect', '--feature-gates=MachinePool=true,Other=false']);
    expect(result.serviceAccount).toBe('demo-system/demo-manager');
  });

  it('lists every change', () => {
    expect(result.changes).toContain('Certificate demo-system/demo-serving-cert: dropped (cert-manager object)');
    expect(result.changes.filter((c) => c.includes('-> https://127.0.0.1:61443'))).toHaveLength(2);
  });

  it('refuses a placeholder without a default and a manifest without a manager Deployment', () => {
    expect(() => resolvePlaceholders('--x=${NO_DEFAULT}')).toThrow(/no default/);
    expect(resolvePlaceholders('a=${A:=1},b=${B=2}')).toBe('a=1,b=2');
    expect(() => rewriteProviderManifest('kind: Namespace\nmetadata: {name: x}\n', OPTS)).toThrow(
      /exactly one manager Deployment/,
    );
  });
});

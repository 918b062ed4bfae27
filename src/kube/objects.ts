/** Kubernetes objects as plain data: parsing manifests, naming, ordering. */
import { parseAllDocuments } from 'yaml';

interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set by the server; sent back on a write it makes the write conditional on this version. */
  resourceVersion?: string;
  uid?: string;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** Enough to find one object. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export function refOf(o: KubeObject): ObjectRef {
  if (!o.metadata.name) throw new Error(`a ${o.kind} in the manifest has no metadata.name`);
  const ref: ObjectRef = { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name };
  if (o.metadata.namespace) ref.namespace = o.metadata.namespace;
  return ref;
}

/** `Deployment capi-system/capi-controller-manager`, the form used in logs and plans. */
export function describeRef(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Parse a multi-document YAML manifest. Empty documents are skipped and
 * `kind: List` is flattened; a document that is not an object is an error
 * naming its position.
 */
export function parseManifests(text: string, source = 'manifest'): KubeObject[] {
  const out: KubeObject[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${source}: document ${i + 1}: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const items = isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
    for (const item of items as unknown[]) {
      if (!isObject(item) || typeof item.apiVersion !== 'string' || typeof item.kind !== 'string') {
        throw new Error(`${source}: document ${i + 1} is not a Kubernetes object (apiVersion and kind are required)`);
      }
      const metadata = isObject(item.metadata) ? (item.metadata as ObjectMeta) : {};
      out.push({ ...item, apiVersion: item.apiVersion, kind: item.kind, metadata });
    }
  });
  return out;
}

/** Kinds other objects depend on go first; webhooks go last so they cannot block the rest. */
const KIND_RANK: Record<string, number> = {
  Namespace: 0,
  CustomResourceDefinition: 1,
  ServiceAccount: 2,
  ClusterRole: 3,
  Role: 3,
  ClusterRoleBinding: 4,
  RoleBinding: 4,
  ConfigMap: 5,
  Secret: 5,
  Service: 6,
  Deployment: 7,
  DaemonSet: 7,
  StatefulSet: 7,
  MutatingWebhookConfiguration: 20,
  ValidatingWebhookConfiguration: 20,
};
const CUSTOM_RANK = 10;

function kindRank(kind: string): number {
  return KIND_RANK[kind] ?? CUSTOM_RANK;
}

/** Stable apply order: by kind rank, keeping manifest order within a rank. */
export function applyOrder(objects: readonly KubeObject[]): KubeObject[] {
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => kindRank(a.o.kind) - kindRank(b.o.kind) || a.i - b.i)
    .map(({ o }) => o);
}

export const isCrd = (o: { kind: string }): boolean => o.kind === 'CustomResourceDefinition';

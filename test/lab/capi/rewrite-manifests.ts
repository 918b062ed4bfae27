/**
 * Turns one provider's `kustomize build config/default` output (what its
 * release YAML is made from) into what the lab installs:
 *
 *   - webhook configurations and CRD conversion webhooks call
 *     `https://127.0.0.1:<port><path>` with the lab CA as caBundle, instead of
 *     the provider's webhook Service (the manager runs as a host process);
 *   - cert-manager's Certificate and Issuer are dropped, and so is the
 *     `cert-manager.io/inject-ca-from` annotation (the lab CA is set directly);
 *   - the manager Deployment is kept (kwok plays its Pod) with the release
 *     image and pull policy, as the upstream release Makefiles set them.
 *
 * It also returns the manager's release arguments, with clusterctl-style
 * `${VAR:=default}` placeholders resolved to their defaults, so the host
 * process runs with the release's flags (feature gates, verbosity), and the
 * ServiceAccount the Deployment runs as, so it runs with the release's RBAC.
 *
 * Documents are edited in place (yaml Document API), so every scalar keeps the
 * quoting kustomize gave it: a plain `on` never turns into a boolean.
 *
 *   node --import tsx test/lab/capi/rewrite-manifests.ts --in RAW --out OUT --args ARGS \
 *     --webhook-url https://127.0.0.1:PORT --ca-bundle-file CA.crt --image IMAGE \
 *     [--service-account FILE] [--changes FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { isMap, isSeq, parseAllDocuments, type Document } from 'yaml';

export interface RewriteOptions {
  /** `https://127.0.0.1:<port>`: the manager's webhook server; the path comes from the manifest. */
  webhookUrl: string;
  /** PEM of the CA that signed the manager's serving certificate. */
  caPem: string;
  /** The manager image a release sets (only the kept Deployment shows it). */
  image: string;
}

export interface RewriteResult {
  yaml: string;
  /** The manager container's release arguments, placeholders resolved. */
  args: string[];
  /** `namespace/name` of the ServiceAccount the manager Deployment runs as. */
  serviceAccount: string;
  /** One line per change, for the render's CHANGES file. */
  changes: string[];
}

/** Annotations cert-manager's CA injector reads; meaningless without it. */
const CERT_MANAGER_ANNOTATIONS = ['cert-manager.io/inject-ca-from', 'cert-manager.io/inject-ca-from-secret'];

/** `${NAME:=default}` (clusterctl/envsubst syntax) to `default`; `${NAME}` without default is an error. */
export function resolvePlaceholders(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?=([^}]*))?\}/g, (whole, name: string, dflt?: string) => {
    if (dflt === undefined) throw new Error(`placeholder ${whole} has no default (expected \${${name}:=value})`);
    return dflt;
  });
}

function describe(doc: Document): string {
  const kind = String(doc.getIn(['kind']) ?? '?');
  const ns = doc.getIn(['metadata', 'namespace']);
  const name = String(doc.getIn(['metadata', 'name']) ?? '?');
  return `${kind} ${ns ? `${String(ns)}/` : ''}${name}`;
}

/** Replace `service: {name, namespace, path, port}` under `path` by `url` + `caBundle`. */
function pointAtHost(doc: Document, path: (string | number)[], o: RewriteOptions, changes: string[]): void {
  const service = doc.getIn([...path, 'service']);
  if (!isMap(service)) {
    if (doc.getIn([...path, 'url']) === undefined) {
      throw new Error(`${describe(doc)}: ${path.join('.')} has neither service nor url`);
    }
    return;
  }
  const svcPath = doc.getIn([...path, 'service', 'path']);
  const urlPath = typeof svcPath === 'string' ? svcPath : '';
  const url = `${o.webhookUrl}${urlPath}`;
  doc.deleteIn([...path, 'service']);
  doc.setIn([...path, 'url'], url);
  doc.setIn([...path, 'caBundle'], Buffer.from(o.caPem).toString('base64'));
  changes.push(`${describe(doc)}: ${path.join('.')} -> ${url} (lab CA)`);
}

interface Manager {
  args: string[];
  serviceAccount: string;
}

function rewriteDocument(doc: Document, o: RewriteOptions, changes: string[], managers: Manager[]): boolean {
  const apiVersion = String(doc.getIn(['apiVersion']) ?? '');
  const kind = String(doc.getIn(['kind']) ?? '');
  if (apiVersion.startsWith('cert-manager.io/')) {
    changes.push(`${describe(doc)}: dropped (cert-manager object)`);
    return false;
  }
  for (const a of CERT_MANAGER_ANNOTATIONS) {
    if (doc.hasIn(['metadata', 'annotations', a])) {
      doc.deleteIn(['metadata', 'annotations', a]);
      changes.push(`${describe(doc)}: annotation ${a} removed`);
    }
  }
  const annotations = doc.getIn(['metadata', 'annotations']);
  if (isMap(annotations) && annotations.items.length === 0) doc.deleteIn(['metadata', 'annotations']);

  if (kind === 'CustomResourceDefinition' && doc.getIn(['spec', 'conversion', 'strategy']) === 'Webhook') {
    pointAtHost(doc, ['spec', 'conversion', 'webhook', 'clientConfig'], o, changes);
  }
  if (kind === 'MutatingWebhookConfiguration' || kind === 'ValidatingWebhookConfiguration') {
    const hooks = doc.getIn(['webhooks']);
    if (!isSeq(hooks)) throw new Error(`${describe(doc)}: no webhooks list`);
    hooks.items.forEach((_, i) => pointAtHost(doc, ['webhooks', i, 'clientConfig'], o, changes));
  }
  if (kind === 'Deployment') {
    const containers = doc.getIn(['spec', 'template', 'spec', 'containers']);
    if (!isSeq(containers)) throw new Error(`${describe(doc)}: no containers`);
    const i = containers.items.findIndex((c) => isMap(c) && c.get('name') === 'manager');
    if (i < 0) throw new Error(`${describe(doc)}: no container named "manager"`);
    const base = ['spec', 'template', 'spec', 'containers', i];
    doc.setIn([...base, 'image'], o.image);
    doc.setIn([...base, 'imagePullPolicy'], 'IfNotPresent');
    changes.push(`${describe(doc)}: kept; image ${o.image}, imagePullPolicy IfNotPresent (as a release sets them)`);
    const raw = doc.getIn([...base, 'args']);
    const list = isSeq(raw) ? (raw.toJSON() as unknown[]).map(String) : [];
    const sa = doc.getIn(['spec', 'template', 'spec', 'serviceAccountName']);
    if (typeof sa !== 'string') throw new Error(`${describe(doc)}: no serviceAccountName`);
    managers.push({
      args: list.map(resolvePlaceholders),
      serviceAccount: `${String(doc.getIn(['metadata', 'namespace']))}/${sa}`,
    });
  }
  return true;
}

export function rewriteProviderManifest(text: string, o: RewriteOptions): RewriteResult {
  const changes: string[] = [];
  const managers: Manager[] = [];
  const out: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`cannot parse the rendered manifest: ${doc.errors[0]!.message}`);
    if (doc.contents === null) continue;
    if (!rewriteDocument(doc, o, changes, managers)) continue;
    doc.directives.docStart = null;
    out.push(doc.toString({ lineWidth: 0 }));
  }
  if (managers.length !== 1) throw new Error(`expected exactly one manager Deployment, found ${managers.length}`);
  return { yaml: out.join('---\n'), ...managers[0]!, changes };
}

function cli(argv: string[]): void {
  const opts = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    const v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined) throw new Error(`usage: bad argument ${k}`);
    opts.set(k.slice(2), v);
  }
  const need = (k: string): string => {
    const v = opts.get(k);
    if (!v) throw new Error(`usage: --${k} is required`);
    return v;
  };
  const result = rewriteProviderManifest(readFileSync(need('in'), 'utf8'), {
    webhookUrl: need('webhook-url'),
    caPem: readFileSync(need('ca-bundle-file'), 'utf8'),
    image: need('image'),
  });
  writeFileSync(need('out'), result.yaml);
  writeFileSync(need('args'), result.args.map((a) => `${a}\n`).join(''));
  if (opts.has('service-account')) writeFileSync(opts.get('service-account')!, `${result.serviceAccount}\n`);
  if (opts.has('changes')) writeFileSync(opts.get('changes')!, result.changes.map((c) => `${c}\n`).join(''));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    cli(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`rewrite-manifests: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

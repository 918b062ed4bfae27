/**
 * YAML documents that hold credentials (clouds.yaml, kubeconfigs) parsed so
 * that every secret field is the string written in the file. The YAML core
 * schema would turn `password: 012345678` into the number 12345678 and
 * `password: true` into a boolean: the first changes the credential, both
 * would escape masking as non-strings.
 */
import { isPair, isScalar, parseDocument, visit, type Scalar } from 'yaml';

/** Keys whose values are secret inside documents such as clouds.yaml or kubeconfigs. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password',
  'application_credential_secret',
  'token',
  'secret',
  'client-key-data',
  'client-certificate-data',
  'private_key',
]);

/**
 * clouds.yaml fields that are text whatever they look like: the secrets, and
 * the names and IDs sent to Keystone (a project ID `0123456789` must not
 * lose its leading zero).
 */
export const CLOUDS_YAML_TEXT_KEYS: ReadonlySet<string> = new Set([
  ...SECRET_KEYS,
  'username',
  'user_id',
  'project_name',
  'project_id',
  'tenant_name',
  'tenant_id',
  'domain_name',
  'domain_id',
  'user_domain_name',
  'user_domain_id',
  'project_domain_name',
  'project_domain_id',
  'application_credential_id',
  'application_credential_name',
  'region_name',
]);

/**
 * A plain (unquoted) scalar that YAML resolved to something other than a
 * string, read back as written. An empty value (`password:`) stays null:
 * nothing was written.
 */
export function scalarAsWritten(node: Scalar): unknown {
  if (typeof node.value === 'string' || node.type !== 'PLAIN') return node.value;
  const source = node.source;
  return typeof source === 'string' && source !== '' ? source : node.value;
}

/**
 * Parse like `yaml.parse` (throws on the first error), but the values of
 * keys in `secretKeys` are the scalars' source text, whatever they look like.
 */
export function parseYamlSecretsAsWritten(text: string, secretKeys: ReadonlySet<string> = SECRET_KEYS): unknown {
  const doc = parseDocument(text);
  const first = doc.errors[0];
  if (first) throw first;
  visit(doc, {
    Pair(_key, pair) {
      if (!isPair(pair) || !isScalar(pair.key) || !isScalar(pair.value)) return;
      if (!secretKeys.has(String(pair.key.value))) return;
      pair.value.value = scalarAsWritten(pair.value);
    },
  });
  return doc.toJS();
}

/**
 * Loads an environment directory: its YAML files and the environments it
 * `extends`, deep-merged (later wins, maps merge, lists replace), secret
 * references resolved, validated against the schema. Touches no network.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigIssue, type SourcePos } from './errors.js';
import { environmentSchema, PUBLIC_PATHS, SENSITIVE_PATHS } from '../model/schema.js';
import { toConfigIssues } from './validate.js';
import {
  dotted,
  pathKey,
  readYamlFile,
  type ParsedFile,
  type PathSeg,
  type PositionIndex,
  type SecretSources,
} from './yaml-source.js';
import { Redactor } from '../util/redact.js';
import { parseYamlSecretsAsWritten } from '../util/yaml-secrets.js';
import { toDesired, type Desired } from '../model/desired.js';

export interface LoadOptions {
  name: string;
  environmentsDir: string;
  env?: Record<string, string | undefined>;
  /** clouds.yaml content given outside the files (by a face, e.g. from an action input); wins over the files. */
  cloudsYamlOverride?: string;
}

export interface LoadedEnvironment {
  desired: Desired;
  /** Every file that contributed, in merge order. */
  files: string[];
  redactor: Redactor;
}

/** Files that may sit in an environment directory without being configuration. */
const NOT_CONFIG = new Set(['clouds.yaml', 'clouds.yml']);

interface Layer {
  dir: string;
  files: ParsedFile[];
}

export function loadEnvironment(opts: LoadOptions): LoadedEnvironment {
  const env = opts.env ?? process.env;
  const root = path.resolve(opts.environmentsDir, opts.name);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    const known = listEnvironments(opts.environmentsDir);
    throw new ConfigError([
      {
        file: root,
        line: 1,
        col: 1,
        message: `no environment "${opts.name}" in ${opts.environmentsDir}${known.length ? ` (found: ${known.join(', ')})` : ''}`,
      },
    ]);
  }

  const issues: ConfigIssue[] = [];
  const layers: Layer[] = [];
  const seen = new Set<string>();
  const fatal = collect(root, [], undefined, { env, isSensitive: matchesSensitive }, layers, seen, issues);
  // A file that is not a mapping, or an `extends` that cannot be followed, leaves
  // nothing sound to validate: the schema errors would only be noise.
  if (fatal) throw new ConfigError(issues);

  // Merge in order; remember where each path was last written.
  let merged: Record<string, unknown> = {};
  const positions: PositionIndex = new Map();
  const secretPaths = new Set<string>();
  const unresolved = new Set<string>();
  const redactor = new Redactor();
  const files: string[] = [];
  for (const layer of layers) {
    for (const f of layer.files) {
      const data = { ...f.data };
      if (layer.dir !== root) delete data.extends; // only the root's own `extends` is kept
      merged = mergeInto(merged, data, [], positions, f.positions);
      f.secretPaths.forEach((p) => secretPaths.add(p));
      f.unresolved.forEach((p) => unresolved.add(p));
      for (const v of f.secretValues) {
        if (isCloudsYamlPath(v.path)) redactor.addDocument(v.value);
        else if (matchesPublic(v.path)) redactor.addUrl(v.value);
        else redactor.add(v.value);
      }
      files.push(f.file);
    }
  }
  if (opts.cloudsYamlOverride !== undefined) {
    const o = isPlainMap(merged.openstack) ? { ...merged.openstack } : {};
    delete o.cloudsYamlFile;
    o.cloudsYaml = opts.cloudsYamlOverride;
    merged = { ...merged, openstack: o };
    secretPaths.add(pathKey(['openstack', 'cloudsYaml']));
  }
  if (files.length === 0) {
    issues.push({
      file: root,
      line: 1,
      col: 1,
      message: 'expected at least one .yaml or .yml file in the environment directory, found none',
    });
    throw new ConfigError(issues);
  }

  const isSecret = (p: readonly PathSeg[]): boolean =>
    (secretPaths.has(pathKey(p)) && !matchesPublic(p)) || matchesSensitive(p);
  const result = environmentSchema.safeParse(merged, { reportInput: true });
  if (!result.success) {
    const fallback: SourcePos = { file: files[files.length - 1] ?? root, line: 1, col: 1 };
    const schemaIssues = toConfigIssues(result.error.issues, {
      positions,
      isSecret,
      schema: environmentSchema,
      fallback,
    });
    // A value whose secret reference failed already has its own error.
    issues.push(...schemaIssues.filter((i) => !isUnresolvedAt(i, unresolved, positions)));
  }
  if (issues.length > 0) throw new ConfigError(issues);
  if (!result.success) throw new Error('unreachable: schema failed without issues');

  const config = result.data;
  issues.push(...checkCloudsYaml(config, root, positions, redactor));
  if (issues.length > 0) throw new ConfigError(issues);
  collectSensitive(config, redactor);
  // The run adds keys and kubeconfigs of its own later; the plan's fingerprint covers these only.
  redactor.sealConfig();
  const desired = toDesired(config, { name: config.name ?? opts.name, dir: root });
  return { desired, files, redactor };
}

function collect(
  dir: string,
  stack: string[],
  via: SourcePos | undefined,
  sources: SecretSources,
  layers: Layer[],
  seen: Set<string>,
  issues: ConfigIssue[],
): boolean {
  if (seen.has(dir)) return false;
  seen.add(dir);
  let fatal = false;
  const names = fs
    .readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n) && !NOT_CONFIG.has(n))
    .sort();
  const files = names.map((n) => readYamlFile(path.join(dir, n), dir, sources));
  for (const f of files) {
    issues.push(...f.issues);
    if (f.fatal) fatal = true;
    const ext = f.data.extends;
    if (ext === undefined) continue;
    if (!Array.isArray(ext)) continue; // the schema reports the wrong type
    ext.forEach((entry, i) => {
      const pos = f.positions.get(pathKey(['extends', i]))?.value ?? { file: f.file, line: 1, col: 1 };
      if (typeof entry !== 'string') return;
      const target = path.resolve(dir, entry);
      if (target === dir || stack.includes(target)) {
        const chain = [...stack, dir, target].map((d) => path.basename(d)).join(' -> ');
        issues.push({ ...pos, message: `extends[${i}]: "${entry}" forms a cycle: ${chain}` });
        fatal = true;
        return;
      }
      if (!fs.existsSync(target) || !fs.statSync(target).isDirectory()) {
        issues.push({
          ...pos,
          message: `extends[${i}]: expected an environment directory, found no directory at "${entry}"`,
        });
        fatal = true;
        return;
      }
      if (collect(target, [...stack, dir], pos, sources, layers, seen, issues)) fatal = true;
    });
  }
  void via;
  layers.push({ dir, files });
  return fatal;
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge: maps merge key by key, anything else (lists included) replaces. */
function mergeInto(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
  p: PathSeg[],
  positions: PositionIndex,
  overPositions: PositionIndex,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  const own = overPositions.get(pathKey(p));
  if (own) positions.set(pathKey(p), own);
  for (const [k, v] of Object.entries(over)) {
    const kp = [...p, k];
    const prev = out[k];
    if (isPlainMap(prev) && isPlainMap(v)) {
      out[k] = mergeInto(prev, v, kp, positions, overPositions);
    } else {
      const prefix = pathKey(kp).slice(0, -1);
      for (const key of [...positions.keys()]) if (key.startsWith(prefix)) positions.delete(key);
      for (const [key, loc] of overPositions) if (key.startsWith(prefix)) positions.set(key, loc);
      out[k] = v;
    }
  }
  return out;
}

function isUnresolvedAt(issue: ConfigIssue, unresolved: Set<string>, positions: PositionIndex): boolean {
  for (const key of unresolved) {
    const loc = positions.get(key);
    if (loc && loc.value.file === issue.file && loc.value.line === issue.line && loc.value.col === issue.col)
      return true;
    const p = JSON.parse(key) as PathSeg[];
    if (issue.message.startsWith(`${dotted(p)}:`) && !issue.message.includes('secret reference')) return true;
  }
  return false;
}

function matchesSensitive(p: readonly PathSeg[]): boolean {
  return matchesAny(SENSITIVE_PATHS, p);
}

/** A reference into one of these paths is not a secret (a mirror URL, a public key), so it is not masked. */
function matchesPublic(p: readonly PathSeg[]): boolean {
  return matchesAny(PUBLIC_PATHS, p);
}

function matchesAny(patterns: readonly string[], p: readonly PathSeg[]): boolean {
  return patterns.some((pattern) => {
    const parts = pattern.split('.');
    return parts.length === p.length && parts.every((part, i) => part === '*' || part === String(p[i]));
  });
}

const isCloudsYamlPath = (p: readonly PathSeg[]): boolean => p.join('.') === 'openstack.cloudsYaml';

/**
 * Register the values at SENSITIVE_PATHS, the secret fields inside
 * clouds.yaml, and the credentials of any URL (a mirror or S3 URL is public,
 * its `user:password@` is not).
 */
function collectSensitive(config: unknown, redactor: Redactor): void {
  const walk = (v: unknown, p: PathSeg[]): void => {
    if (Array.isArray(v)) v.forEach((c, i) => walk(c, [...p, i]));
    else if (isPlainMap(v)) Object.entries(v).forEach(([k, c]) => walk(c, [...p, k]));
    else if (typeof v === 'string' && matchesSensitive(p)) {
      if (isCloudsYamlPath(p)) redactor.addDocument(v);
      else redactor.add(v);
    } else if (typeof v === 'string') redactor.addUrl(v);
  };
  walk(config, []);
}

/** clouds.yaml must exist, parse, and hold the chosen cloud: checked here, before any request. */
function checkCloudsYaml(
  config: { openstack: { cloud: string; cloudsYaml?: string; cloudsYamlFile?: string } },
  root: string,
  positions: PositionIndex,
  redactor: Redactor,
): ConfigIssue[] {
  const o = config.openstack;
  const key = o.cloudsYamlFile !== undefined ? 'cloudsYamlFile' : 'cloudsYaml';
  const at = (k: string): SourcePos =>
    positions.get(pathKey(['openstack', k]))?.value ?? { file: root, line: 1, col: 1 };
  let text = o.cloudsYaml;
  if (o.cloudsYamlFile !== undefined) {
    try {
      text = fs.readFileSync(path.resolve(root, o.cloudsYamlFile), 'utf8');
    } catch {
      return [
        {
          ...at(key),
          message: `openstack.cloudsYamlFile: expected a readable file, found none at "${o.cloudsYamlFile}"`,
        },
      ];
    }
  }
  let parsed: unknown;
  try {
    parsed = parseYamlSecretsAsWritten(text ?? '');
  } catch (e) {
    return [
      {
        ...at(key),
        message: `openstack.${key}: expected clouds.yaml content, found invalid YAML (${(e as Error).message.split('\n')[0]})`,
      },
    ];
  }
  redactor.addDocument(text ?? '');
  const clouds = isPlainMap(parsed) && isPlainMap(parsed.clouds) ? parsed.clouds : undefined;
  if (!clouds) {
    const what = o.cloudsYamlFile !== undefined ? `in "${o.cloudsYamlFile}"` : 'in the content';
    return [
      { ...at(key), message: `openstack.${key}: expected clouds.yaml with a "clouds:" mapping, found none ${what}` },
    ];
  }
  if (!isPlainMap(clouds[o.cloud])) {
    const names = Object.keys(clouds);
    return [
      {
        ...(positions.get(pathKey(['openstack', 'cloud'])) ? at('cloud') : at(key)),
        message: `openstack.cloud: expected one of the clouds in clouds.yaml (${names.join(', ') || 'none'}), found "${o.cloud}"`,
      },
    ];
  }
  return [];
}

function listEnvironments(environmentsDir: string): string[] {
  try {
    return fs
      .readdirSync(environmentsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/**
 * How a run reaches its cloud: the one place that turns the environment's
 * `openstack` settings into a `CloudConfig`, and the one `Session` (one
 * Keystone login, one token) that everything in a run shares: the seed-infra
 * layer, the run lock's marker, later the cluster layer's pre-flight checks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Agent } from 'undici';
import type { Environment } from '../model/schema.js';
import { parseCloud, type CloudConfig } from './cloud-config.js';
import { CLOUDS_YAML_TEXT_KEYS, parseYamlSecretsAsWritten } from '../util/yaml-secrets.js';
import { Session, type SessionOptions } from './session.js';

export type OpenStackSettings = Environment['openstack'];

/**
 * The cloud `settings.cloud` of the clouds.yaml given as content or as a
 * file (relative to the environment directory `envDir`); paths inside it
 * (a CA file) are relative to where the clouds.yaml lives.
 */
export function resolveCloud(settings: OpenStackSettings, envDir: string): CloudConfig {
  const { text, baseDir } = cloudsYamlOf(settings, envDir);
  return parseCloud(text, settings.cloud, { baseDir, caBundle: settings.caBundle });
}

function cloudsYamlOf(settings: OpenStackSettings, envDir: string): { text: string; baseDir: string } {
  if (settings.cloudsYaml !== undefined) return { text: settings.cloudsYaml, baseDir: envDir };
  const file = path.resolve(envDir, settings.cloudsYamlFile ?? 'clouds.yaml');
  return { text: fs.readFileSync(file, 'utf8'), baseDir: path.dirname(file) };
}

/**
 * The `settings.cloud` entry of clouds.yaml as written (secrets and IDs as
 * text), for handing on to the cluster's own controllers. `resolveCloud`
 * has checked it when the run's session was made.
 */
export function cloudEntry(settings: OpenStackSettings, envDir: string): Record<string, unknown> {
  const doc = parseYamlSecretsAsWritten(cloudsYamlOf(settings, envDir).text, CLOUDS_YAML_TEXT_KEYS) as {
    clouds?: Record<string, unknown>;
  } | null;
  const entry = doc?.clouds?.[settings.cloud];
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new Error(`clouds.yaml: no cloud "${settings.cloud}"`);
  }
  return entry as Record<string, unknown>;
}

/** A session for a cloud; a private CA or `verify: false` needs its own agent (Node's fetch trusts only its bundled CAs). */
export function openSession(cloud: CloudConfig, opts: SessionOptions = {}): Session {
  let dispatcher = opts.dispatcher;
  if (!dispatcher && (cloud.caPem || !cloud.verify)) {
    dispatcher = new Agent({ connect: { ca: cloud.caPem, rejectUnauthorized: cloud.verify } });
  }
  return new Session(cloud, { ...opts, dispatcher });
}

// Keyed by the settings object of one loaded environment: every run loads
// its own, so a run shares one session and two runs never do.
const sessions = new WeakMap<OpenStackSettings, Session>();

/** The run's shared session, made on first use; `opts` apply to that first use only. */
export function runSession(settings: OpenStackSettings, envDir: string, opts: SessionOptions = {}): Session {
  let s = sessions.get(settings);
  if (!s) {
    s = openSession(resolveCloud(settings, envDir), opts);
    sessions.set(settings, s);
  }
  return s;
}

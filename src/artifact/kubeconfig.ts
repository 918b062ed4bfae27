/**
 * Hands the management cluster's kubeconfig to later jobs: age-encrypted
 * in memory, written only as ciphertext, uploaded as a single-file
 * artifact with a short retention. The plain kubeconfig never hits disk.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encryptTo } from './age.js';

export interface ArtifactUploader {
  /** Upload one file as it is (no zip); returns the artifact id. */
  uploadFile(file: string, retentionDays: number): Promise<number>;
}

const kubeconfigArtifactName = (environment: string): string => `capi-mgmt-${environment}-kubeconfig.age`;

export interface PublishRequest {
  environment: string;
  kubeconfig: string;
  recipients: readonly string[];
  retentionDays: number;
  uploader: ArtifactUploader;
  /** Where to put the ciphertext file (RUNNER_TEMP on a runner). */
  tempDir?: string;
  /** Told about every file made, so the post step can remove it. */
  onTempPath?: (p: string) => void;
}

export interface Published {
  id: number;
  name: string;
  /** Bytes of ciphertext uploaded. */
  size: number;
}

export async function publishKubeconfig(r: PublishRequest): Promise<Published> {
  const ciphertext = await encryptTo(r.recipients, r.kubeconfig);
  const dir = fs.mkdtempSync(path.join(r.tempDir ?? os.tmpdir(), 'capi-mgmt-'));
  r.onTempPath?.(dir);
  const name = kubeconfigArtifactName(r.environment);
  const file = path.join(dir, name);
  fs.writeFileSync(file, ciphertext, { mode: 0o600 });
  const id = await r.uploader.uploadFile(file, r.retentionDays);
  return { id, name, size: ciphertext.length };
}

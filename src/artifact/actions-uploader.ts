/** ArtifactUploader over @actions/artifact (results service, Azure blob upload). */
import path from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import type { ArtifactUploader } from './kubeconfig.js';

export class ActionsArtifactUploader implements ArtifactUploader {
  private readonly client = new DefaultArtifactClient();

  async uploadFile(file: string, retentionDays: number): Promise<number> {
    // skipArchive: the artifact is the .age file itself, named after it.
    const r = await this.client.uploadArtifact(path.basename(file), [file], path.dirname(file), {
      retentionDays,
      skipArchive: true,
    });
    if (r.id === undefined) throw new Error('the artifact service returned no artifact id');
    return r.id;
  }
}

/**
 * ArtifactUploader over @actions/artifact (results service, Azure blob
 * upload). The client is loaded at the first upload: only runs that hand
 * over a kubeconfig need it, and it is large.
 */
import path from 'node:path';
import type { ArtifactUploader } from './kubeconfig.js';

export class ActionsArtifactUploader implements ArtifactUploader {
  async uploadFile(file: string, retentionDays: number): Promise<number> {
    const { DefaultArtifactClient } = await import('@actions/artifact');
    // skipArchive: the artifact is the .age file itself, named after it.
    const r = await new DefaultArtifactClient().uploadArtifact(path.basename(file), [file], path.dirname(file), {
      retentionDays,
      skipArchive: true,
    });
    if (r.id === undefined) throw new Error('the artifact service returned no artifact id');
    return r.id;
  }
}

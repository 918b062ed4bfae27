import type { RunSecrets } from './types.js';

/**
 * A layer needs a secret the run was not given. The message names the
 * secret as the engine knows it; each face knows where it takes that secret
 * from (an action input, a CLI option or variable) and may say so.
 */
export class MissingSecretError extends Error {
  constructor(
    readonly secret: keyof RunSecrets,
    message: string,
  ) {
    super(message);
    this.name = 'MissingSecretError';
  }
}

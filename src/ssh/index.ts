export {
  connectSsh,
  checkPrivateKey,
  SshCommandError,
  SshConnectionLostError,
  SshKeyError,
  type ExecOptions,
  type ExecResult,
  type SshConnectOptions,
  type SshSession,
  type SshTarget,
  type UploadResult,
} from './client.js';
export type { PortForward } from './forward.js';
export { fingerprint, formatHostKey, parseHostKey, HostKeyMismatchError } from './host-key.js';
export { shq, remotePath } from './lines.js';
export { waitForSsh, type WaitForSshOptions } from './wait.js';

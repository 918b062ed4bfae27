export {
  connectSsh,
  SshCommandError,
  SshConnectionLostError,
  type ExecOptions,
  type ExecResult,
  type SshConnectOptions,
  type SshSession,
  type UploadResult,
} from './client.js';
export type { PortForward } from './forward.js';
export { fingerprint, HostKeyMismatchError } from './host-key.js';
export { shq, remotePath } from './lines.js';
export { waitForSsh, type WaitForSshOptions } from './wait.js';

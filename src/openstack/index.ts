/** The OpenStack boundary: one interface (`OpenStackClient`), one REST implementation. */
export * from './types.js';
export { RestOpenStackClient, createOpenStackClient } from './client.js';
export { resolveCloud, runSession, type OpenStackSettings } from './connection.js';
export { parseCloud, CloudConfigError, type CloudConfig, type CloudAuth } from './cloud-config.js';
export { OpenStackApiError, OpenStackConnectionError, NotFoundError, closestNames, notFoundMessage } from './errors.js';
export { Session, type SessionOptions, type RetryPolicy, type ServiceType } from './session.js';
export { Transport } from './transport.js';
export { chooseMicroversion, parseVersion, formatVersion } from './microversion.js';

/**
 * The cloud the cluster's controllers use (CAPO, the CCM, Cinder CSI): the
 * run's own clouds.yaml entry, with the project the run's token is scoped
 * to and the CA it trusts, as azimuth-ops passes them to the chart.
 */
import type { Desired } from '../../model/desired.js';
import { cloudEntry, resolveCloud } from '../../openstack/connection.js';
import type { Session } from '../../openstack/session.js';
import type { CloudFacts } from './values.js';

export async function cloudFacts(desired: Desired, session: Pick<Session, 'projectId'>): Promise<CloudFacts> {
  const o = desired.config.openstack;
  const projectId = await session.projectId();
  if (!projectId) {
    throw new Error(`the token of cloud "${o.cloud}" is not scoped to a project: the cluster's controllers need one`);
  }
  const facts: CloudFacts = { entry: cloudEntry(o, desired.dir), projectId };
  const ca = resolveCloud(o, desired.dir).caPem;
  if (ca) facts.caPem = ca;
  return facts;
}

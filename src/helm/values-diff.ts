/** Pure comparison of a release as deployed with the release as desired, for plans. */
import { canonicalJson } from '../util/canonical-json.js';
import { changedPaths } from '../kube/index.js';

export interface ReleaseState {
  chartVersion: string;
  values: Record<string, unknown>;
  status?: string;
}

export interface ReleaseDiff {
  changed: boolean;
  chartVersion?: { before: string; after: string };
  /** Dotted paths of user-supplied values that differ. */
  valuePaths: string[];
  /** A release that is not `deployed` (failed, pending-*) needs another upgrade. */
  unhealthyStatus?: string;
}

const sameVersion = (a: string, b: string): boolean => a.replace(/^v/, '') === b.replace(/^v/, '');

export function diffRelease(deployed: ReleaseState, desired: ReleaseState): ReleaseDiff {
  const out: ReleaseDiff = { changed: false, valuePaths: [] };
  if (!sameVersion(deployed.chartVersion, desired.chartVersion)) {
    out.chartVersion = { before: deployed.chartVersion, after: desired.chartVersion };
  }
  if (canonicalJson(deployed.values) !== canonicalJson(desired.values)) {
    out.valuePaths = changedPaths(deployed.values, desired.values);
  }
  if (deployed.status !== undefined && deployed.status !== 'deployed') out.unhealthyStatus = deployed.status;
  out.changed = out.chartVersion !== undefined || out.valuePaths.length > 0 || out.unhealthyStatus !== undefined;
  return out;
}

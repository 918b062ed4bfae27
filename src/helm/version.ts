/**
 * Which helm we have and what it can do. A feature the binary is too old
 * for is switched off with a warning; only a helm below the minimum is an error.
 */
import semver from 'semver';

/** OCI registries without the experimental flag arrived in 3.8. */
const MIN_HELM_VERSION = '3.8.0';

export type HelmFeature = 'waitForJobs' | 'skipSchemaValidation' | 'takeOwnership' | 'rollbackOnFailureFlag';

/** First helm version with each feature. */
const FEATURE_SINCE: Record<HelmFeature, string> = {
  waitForJobs: '3.5.0',
  skipSchemaValidation: '3.16.0',
  takeOwnership: '3.17.0',
  // helm 4 renamed --atomic to --rollback-on-failure.
  rollbackOnFailureFlag: '4.0.0',
};

/** `v3.19.0+g3d8990f` -> `3.19.0`; `v3.19` (a build without version stamps) -> `3.19.0`. */
export function parseHelmVersion(output: string): string {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?(-[0-9A-Za-z.-]+)?/.exec(output.trim());
  if (!m) throw new Error(`cannot read a version from "helm version" output: ${output.trim().slice(0, 80)}`);
  return `${m[1]}.${m[2]}.${m[3] ?? '0'}${m[4] ?? ''}`;
}

export function checkMinimum(version: string): void {
  if (semver.lt(version, MIN_HELM_VERSION)) {
    throw new Error(`helm ${version} is too old: capi-mgmt needs helm >= ${MIN_HELM_VERSION}`);
  }
}

export function supports(version: string, feature: HelmFeature): boolean {
  // A pre-release of 4.0.0 already has 4.0.0's flags: compare the release part only.
  return semver.gte(semver.coerce(version)?.version ?? version, FEATURE_SINCE[feature]);
}

export function featureMinimum(feature: HelmFeature): string {
  return FEATURE_SINCE[feature];
}

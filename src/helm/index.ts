export { createHelm, HelmError } from './cli.js';
export type { Helm, HelmOptions, ReleaseInfo, UpgradeOptions } from './cli.js';
export { chartArgs, chartVersionOf, describeChart, splitChartLabel } from './chart.js';
export type { ChartRef } from './chart.js';
export { diffRelease } from './values-diff.js';
export type { ReleaseDiff, ReleaseState } from './values-diff.js';
export { MIN_HELM_VERSION, parseHelmVersion, supports } from './version.js';

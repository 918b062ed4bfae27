import { describe, expect, it } from 'vitest';
import { chartArgs, splitChartLabel } from '../../src/helm/chart.js';
import { diffRelease } from '../../src/helm/values-diff.js';
import { checkMinimum, parseHelmVersion, supports } from '../../src/helm/version.js';

describe('helm version', () => {
  it('reads stamped and unstamped version output', () => {
    expect(parseHelmVersion('v3.19.0+g3d8990f\n')).toBe('3.19.0');
    expect(parseHelmVersion('v3.19')).toBe('3.19.0');
    expect(parseHelmVersion('v4.1.0-rc.1+gabc')).toBe('4.1.0-rc.1');
    expect(() => parseHelmVersion('garbage')).toThrow(/cannot read a version/);
  });

  it('refuses helm below the minimum and gates features by version', () => {
    expect(() => checkMinimum('3.7.2')).toThrow(/too old/);
    expect(() => checkMinimum('3.8.0')).not.toThrow();
    expect(supports('3.15.0', 'skipSchemaValidation')).toBe(false);
    expect(supports('3.19.0', 'skipSchemaValidation')).toBe(true);
    expect(supports('3.19.0', 'rollbackOnFailureFlag')).toBe(false);
    expect(supports('4.0.0-rc.1', 'rollbackOnFailureFlag')).toBe(true);
  });
});

describe('chart references', () => {
  it('builds repo, OCI and local arguments', () => {
    expect(
      chartArgs({ kind: 'repo', repo: 'https://charts.jetstack.io', name: 'cert-manager', version: 'v1.21.1' }),
    ).toEqual(['cert-manager', '--repo', 'https://charts.jetstack.io', '--version', 'v1.21.1']);
    expect(chartArgs({ kind: 'oci', url: 'oci://ghcr.io/x/y', version: '1.0.0' })).toEqual([
      'oci://ghcr.io/x/y',
      '--version',
      '1.0.0',
    ]);
    expect(() => chartArgs({ kind: 'oci', url: 'https://x', version: '1' })).toThrow(/oci:\/\//);
    expect(chartArgs({ kind: 'local', path: '/c' })).toEqual(['/c']);
  });

  it('splits helm list chart labels with dashes and pre-releases', () => {
    expect(splitChartLabel('cert-manager-v1.21.1')).toEqual({ name: 'cert-manager', version: 'v1.21.1' });
    expect(splitChartLabel('cluster-api-janitor-openstack-0.15.0')).toEqual({
      name: 'cluster-api-janitor-openstack',
      version: '0.15.0',
    });
    expect(splitChartLabel('a-b-1.0.0-rc.1')).toEqual({ name: 'a-b', version: '1.0.0-rc.1' });
  });
});

describe('diffRelease', () => {
  it('is unchanged when version (v-prefix aside) and values match', () => {
    const d = diffRelease(
      { chartVersion: 'v1.0.0', values: { a: 1 }, status: 'deployed' },
      { chartVersion: '1.0.0', values: { a: 1 } },
    );
    expect(d.changed).toBe(false);
  });

  it('reports version, value paths and an unhealthy status', () => {
    const d = diffRelease(
      { chartVersion: '1.0.0', values: { a: { b: 1, c: 2 } }, status: 'failed' },
      { chartVersion: '1.1.0', values: { a: { b: 1, c: 3 }, d: true } },
    );
    expect(d).toEqual({
      changed: true,
      chartVersion: { before: '1.0.0', after: '1.1.0' },
      valuePaths: ['a.c', 'd'],
      unhealthyStatus: 'failed',
    });
  });
});

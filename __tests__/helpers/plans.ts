/** Small plans for unit tests. */
import { buildPlan, type Change } from '../../src/plan/plan.js';

export function samplePlan(o: { size?: number; env?: string; extra?: Change[] } = {}) {
  const changes: Change[] = [
    {
      layer: 'seed-infra',
      address: 'security-group/capi-mgmt-prod-seed',
      action: 'no-op',
      before: { rules: 2 },
      after: { rules: 2 },
    },
    { layer: 'seed-infra', address: 'server/capi-mgmt-prod-seed', action: 'create', after: { flavor: 'm1.large' } },
    {
      layer: 'cluster',
      address: 'helmrelease/capi-mgmt-prod',
      action: 'update',
      before: { workers: 3 },
      after: { workers: o.size ?? 4 },
      reason: 'values differ',
    },
    ...(o.extra ?? []),
  ];
  return buildPlan({ environment: o.env ?? 'prod', layers: ['seed-infra', 'seed-k3s', 'cluster'], changes });
}

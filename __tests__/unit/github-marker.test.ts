import { describe, expect, it } from 'vitest';
import {
  readDriftMarker,
  readPlanBlock,
  readPlanMarker,
  replaceMarker,
  saltedPlanHash,
  writeMarker,
  writePlanBlock,
} from '../../src/github/marker.js';
import { buildPlan, type Change } from '../../src/plan/plan.js';
import { samplePlan } from '../helpers/plans.js';

describe('plan marker', () => {
  it('round-trips and sits first in the body', () => {
    const m = { environment: 'prod', planHash: 'abc', status: 'planned' as const };
    const body = `${writeMarker(m)}\n### plan`;
    expect(body.startsWith('<!-- capi-mgmt {"environment":"prod","planHash":"abc","status":"planned"} -->')).toBe(true);
    expect(readPlanMarker(body)).toEqual(m);
    expect(readPlanMarker(replaceMarker(body, { ...m, status: 'applied' }))?.status).toBe('applied');
  });

  it('rejects bodies whose marker is not ours or not well formed', () => {
    expect(readPlanMarker('hello')).toBeUndefined();
    expect(readPlanMarker('<!-- capi-mgmt {"environment":"prod","planHash":"a","status":"bogus"} -->')).toBeUndefined();
    expect(readPlanMarker('<!-- capi-mgmt {not json} -->')).toBeUndefined();
    // A marker further down (e.g. quoted in a reply) does not count.
    expect(
      readPlanMarker(`> quoted\n${writeMarker({ environment: 'prod', planHash: 'a', status: 'planned' })}`),
    ).toBeUndefined();
  });

  it('keeps drift markers apart from plan markers', () => {
    const body = writeMarker({ environment: 'prod', kind: 'drift' });
    expect(readDriftMarker(body)).toEqual({ environment: 'prod', kind: 'drift' });
    expect(readPlanMarker(body)).toBeUndefined();
  });
});

describe('salted plan hash', () => {
  it('differs per pull request, so an approval cannot be replayed elsewhere', () => {
    const a = saltedPlanHash('https://api.github.com/repos/o/r/issues/1', 'h');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(saltedPlanHash('https://api.github.com/repos/o/r/issues/2', 'h'));
    expect(a).toBe(saltedPlanHash('https://api.github.com/repos/o/r/issues/1', 'h'));
  });
});

describe('approved plan block', () => {
  it('carries the real changes and the hash', () => {
    const plan = samplePlan();
    const back = readPlanBlock(`x\n${writePlanBlock(plan, 16_000)}\ny`);
    expect(back?.hash).toBe(plan.hash);
    expect(back?.plan?.changes.map((c) => c.address)).toEqual([
      'server/capi-mgmt-prod-seed',
      'helmrelease/capi-mgmt-prod',
    ]);
    expect(back?.trimmed).toBeUndefined();
  });

  it('drops what does not fit but never the hash', () => {
    const big: Change[] = Array.from({ length: 400 }, (_, i) => ({
      layer: 'cluster',
      address: `object/${i}`,
      action: 'update' as const,
      before: { data: `${i}-${'x'.repeat(60)}-${Math.sin(i)}` },
      after: { data: i },
    }));
    const plan = buildPlan({ environment: 'prod', layers: ['cluster'], changes: big });
    const small = writePlanBlock(plan, 6_000);
    expect(small.length).toBeLessThanOrEqual(6_000);
    const back = readPlanBlock(small);
    expect(back?.hash).toBe(plan.hash);
    expect(back?.trimmed).toBe('before-values');
    expect(readPlanBlock(writePlanBlock(plan, 200))).toMatchObject({ hash: plan.hash, trimmed: 'changes' });
  });
});

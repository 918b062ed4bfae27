import { describe, expect, it } from 'vitest';
import { readPlanBlock, readPlanMarker, saltedPlanHash, writeMarker } from '../../src/github/marker.js';
import {
  approvalOf,
  findPlanComment,
  renderPlanComment,
  upsertPlanComment,
  withStatus,
} from '../../src/github/plan-comment.js';
import { buildPlan, type Change } from '../../src/plan/plan.js';
import { MemoryGitHub } from '../helpers/github-api-memory.js';
import { samplePlan } from '../helpers/plans.js';

const issueUrl = 'https://api.github.com/repos/acme/platform/issues/7';
const runUrl = 'https://github.com/acme/platform/actions/runs/1';

describe('renderPlanComment', () => {
  it('has the marker, a summary line, a section per layer and a status line', () => {
    const plan = samplePlan();
    const body = renderPlanComment({ environment: 'prod', issueUrl, runUrl, status: 'planned', plan });
    expect(readPlanMarker(body)).toEqual({
      environment: 'prod',
      planHash: saltedPlanHash(issueUrl, plan.hash),
      status: 'planned',
    });
    expect(body).toContain('**Plan for prod: 1 to create, 1 to update.**');
    expect(body.match(/<details/g)).toHaveLength(3);
    expect(body).toContain('<summary>seed-k3s: no changes</summary>');
    expect(body).toMatch(
      /:memo: Plan generated in \[workflow run\]\(https:\/\/github.com\/acme\/platform\/actions\/runs\/1\)/,
    );
    expect(readPlanBlock(body)?.hash).toBe(plan.hash);
  });

  it('cuts a huge plan to fit a comment, with a note', () => {
    const changes: Change[] = Array.from({ length: 3000 }, (_, i) => ({
      layer: i % 2 ? 'cluster' : 'seed-infra',
      address: `thing/${i}`,
      action: 'create' as const,
      after: { value: `${i}-${'y'.repeat(40)}` },
    }));
    const plan = buildPlan({ environment: 'prod', layers: ['seed-infra', 'cluster'], changes });
    const body = renderPlanComment({ environment: 'prod', issueUrl, runUrl, status: 'planned', plan });
    expect(body.length).toBeLessThan(65_536);
    expect(body).toContain('Output cut to stay under');
    expect(readPlanBlock(body)?.hash).toBe(plan.hash);
    expect(body).toMatch(/<!-- capi-mgmt-status -->\n:memo:/);
  });

  it('says why there is no plan', () => {
    const body = renderPlanComment({
      environment: 'prod',
      issueUrl,
      runUrl,
      status: 'failed',
      error: 'the environment is invalid',
    });
    expect(readPlanMarker(body)).toMatchObject({ status: 'failed', planHash: '' });
    expect(body).toContain(':x: Failed in [workflow run]');
    expect(body).toContain('the environment is invalid');
  });
});

describe('withStatus', () => {
  it('changes only the status line and the marker', () => {
    const plan = samplePlan();
    const body = renderPlanComment({ environment: 'prod', issueUrl, runUrl, status: 'planned', plan });
    const next = withStatus(body, 'applied', 'https://github.com/acme/platform/actions/runs/2');
    expect(readPlanMarker(next)?.status).toBe('applied');
    expect(readPlanMarker(next)?.planHash).toBe(readPlanMarker(body)?.planHash);
    expect(next).toContain(
      ':white_check_mark: Plan applied in [workflow run](https://github.com/acme/platform/actions/runs/2).',
    );
    expect(next).not.toContain(':memo:');
    expect(next.split('<!-- capi-mgmt-status -->')[0]).toBe(
      body.split('<!-- capi-mgmt-status -->')[0]!.replace('"planned"', '"applied"'),
    );
    const failed = withStatus(next, 'plan-changed', runUrl, 'hash <b>x</b>\nmore');
    expect(failed).toContain('the plan has changed since it was approved (hash bx/b more).');
  });
});

describe('finding our comment', () => {
  it("matches by marker and only among the token user's comments", async () => {
    const api = new MemoryGitHub(); // GET /user refused: falls back to github-actions[bot]
    const plan = samplePlan();
    const body = renderPlanComment({ environment: 'prod', issueUrl, runUrl, status: 'planned', plan });
    api.addForeignComment(7, body.replace(/"planHash":"[0-9a-f]+"/, '"planHash":"forged"'), 'mallory');
    expect(await findPlanComment(api, 7, 'prod')).toBeUndefined();
    const id = await upsertPlanComment(api, 7, body, 'prod');
    expect((await findPlanComment(api, 7, 'prod'))?.comment.id).toBe(id);
    expect(await findPlanComment(api, 7, 'staging')).toBeUndefined();
    // Updated in place: still one comment of ours.
    expect(await upsertPlanComment(api, 7, withStatus(body, 'applying', runUrl), 'prod')).toBe(id);
    expect(api.comments.filter((c) => c.author === 'github-actions[bot]')).toHaveLength(1);
  });

  it('uses GET /user for a personal token', async () => {
    const api = new MemoryGitHub('deploy-bot');
    const body = renderPlanComment({ environment: 'prod', issueUrl, runUrl, status: 'planned', plan: samplePlan() });
    api.addForeignComment(7, body, 'github-actions[bot]');
    expect(await findPlanComment(api, 7, 'prod')).toBeUndefined();
    await upsertPlanComment(api, 7, body, 'prod');
    expect((await findPlanComment(api, 7, 'prod'))?.comment.author).toBe('deploy-bot');
  });
});

describe('approvalOf', () => {
  it('accepts the plan only on the PR it was made for', () => {
    const plan = samplePlan();
    const body = renderPlanComment({ environment: 'prod', issueUrl, runUrl, status: 'planned', plan });
    const found = { comment: { id: 1, body, author: 'x' }, marker: readPlanMarker(body)! };
    expect(approvalOf(found, issueUrl)).toMatchObject({ hash: plan.hash });
    expect(approvalOf(found, issueUrl.replace('/7', '/8'))).toEqual({
      error: 'the plan comment was not made for this pull request',
    });
    const bare = `${writeMarker({ environment: 'prod', planHash: 'x', status: 'planned' })}\n`;
    expect(
      approvalOf({ comment: { id: 2, body: bare, author: 'x' }, marker: readPlanMarker(bare)! }, issueUrl),
    ).toEqual({
      error: 'the plan comment holds no approved plan',
    });
  });
});

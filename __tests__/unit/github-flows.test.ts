import { describe, expect, it } from 'vitest';
import type { GitHubRunContext } from '../../src/github/context.js';
import { syncDriftIssue } from '../../src/github/drift-issue.js';
import { findApproval, mergedPullFor, publishPlan, setCommentStatus } from '../../src/github/flows.js';
import { readPlanMarker } from '../../src/github/marker.js';
import { planChangeDiff, unifiedDiff } from '../../src/github/plan-diff.js';
import { buildPlan } from '../../src/plan/plan.js';
import { MemoryGitHub } from '../helpers/github-api-memory.js';
import { samplePlan } from '../helpers/plans.js';

const issueUrl = (n: number): string => `https://api.github.com/repos/acme/platform/issues/${n}`;
const gh = (o: Partial<GitHubRunContext> = {}): GitHubRunContext => ({
  owner: 'acme',
  repo: 'platform',
  eventName: 'push',
  sha: 'c0ffee'.padEnd(40, '0'),
  runId: '5',
  runUrl: 'https://github.com/acme/platform/actions/runs/5',
  ...o,
});

describe('mergedPullFor', () => {
  it('prefers the PR merged as this very commit, and ignores unmerged ones', async () => {
    const api = new MemoryGitHub();
    const sha = gh().sha;
    api.pulls.set(sha, [
      { number: 1, issueUrl: issueUrl(1), merged: false },
      { number: 2, issueUrl: issueUrl(2), merged: true, mergeCommitSha: 'other' },
      { number: 3, issueUrl: issueUrl(3), merged: true, mergeCommitSha: sha },
    ]);
    expect((await mergedPullFor(api, sha))?.number).toBe(3);
    api.pulls.set(sha, [{ number: 2, issueUrl: issueUrl(2), merged: true }]); // merge_commit_sha went null (dflook #362)
    expect((await mergedPullFor(api, sha))?.number).toBe(2);
  });
});

describe('findApproval', () => {
  it('reads the approved plan from the merged PR', async () => {
    const api = new MemoryGitHub();
    const plan = samplePlan();
    await publishPlan(
      api,
      gh({ eventName: 'pull_request' }),
      { number: 4, issueUrl: issueUrl(4) },
      { environment: 'prod', plan },
    );
    api.pulls.set(gh().sha, [{ number: 4, issueUrl: issueUrl(4), merged: true, mergeCommitSha: gh().sha }]);
    const a = await findApproval(api, gh(), 'prod');
    expect(a.ok && a.approved.hash).toBe(plan.hash);
    if (!a.ok) return;
    const body = await setCommentStatus(api, gh(), { commentId: a.comment.commentId, body: a.body }, 'applying');
    expect(readPlanMarker(body)?.status).toBe('applying');
  });

  it('refuses without a PR, without a comment, or with a comment for another PR', async () => {
    const api = new MemoryGitHub();
    expect(await findApproval(api, gh(), 'prod')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('auto-approve'),
    });
    api.pulls.set(gh().sha, [{ number: 4, issueUrl: issueUrl(4), merged: true }]);
    expect(await findApproval(api, gh(), 'prod')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('no capi-mgmt plan comment'),
    });
    // A comment made for PR 9, copied onto PR 4 by our own bot user.
    await publishPlan(api, gh(), { number: 9, issueUrl: issueUrl(9) }, { environment: 'prod', plan: samplePlan() });
    await api.createIssueComment(4, api.comments[0]!.body);
    expect(await findApproval(api, gh(), 'prod')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not made for this pull request'),
    });
  });
});

describe('plan diff', () => {
  it('is a unified diff with hunks', () => {
    const a = 'abcdefghijkl'.split('').join('\n');
    const b = 'abcDefghijklm'.split('').join('\n');
    expect(unifiedDiff(a, b, ['old', 'new'])).toBe(
      [
        '--- old',
        '+++ new',
        '@@ -1,7 +1,7 @@',
        ' a',
        ' b',
        ' c',
        '-d',
        '+D',
        ' e',
        ' f',
        ' g',
        '@@ -10,3 +10,4 @@',
        ' j',
        ' k',
        ' l',
        '+m',
      ].join('\n'),
    );
    // Changes closer than twice the context share one hunk.
    expect(unifiedDiff('abcdefgh'.split('').join('\n'), 'abcDefgH'.split('').join('\n'), ['o', 'n'])).toContain(
      '@@ -1,8 +1,8 @@',
    );
  });

  it('shows what changed between the approved and the current plan', () => {
    const d = planChangeDiff(
      { hash: samplePlan().hash, environment: 'prod', plan: samplePlan() },
      samplePlan({ size: 5 }),
    );
    expect(d).toMatch(/^-\s+workers: 4$/m);
    expect(d).toMatch(/^\+\s+workers: 5$/m);
    expect(d).not.toContain('security-group'); // no-ops are not part of an approval
  });
});

describe('drift issue', () => {
  it('opens one issue per environment, updates it, and closes it when the drift is gone', async () => {
    const api = new MemoryGitHub();
    const runUrl = gh().runUrl;
    await api.createIssue('unrelated', 'hello');
    api.issues.push({
      number: 77,
      title: 'fake',
      body: '<!-- capi-mgmt {"environment":"prod","kind":"drift"} -->',
      author: 'mallory',
      state: 'open',
    });
    const drift = samplePlan();
    const opened = await syncDriftIssue(api, { environment: 'prod', plan: drift, runUrl, reconciled: false });
    expect(opened.action).toBe('opened');
    expect(await syncDriftIssue(api, { environment: 'prod', plan: drift, runUrl, reconciled: false })).toEqual({
      ...opened,
      action: 'updated',
    });
    expect(await syncDriftIssue(api, { environment: 'staging', plan: drift, runUrl, reconciled: false })).toMatchObject(
      { action: 'opened' },
    );
    const clean = buildPlan({ environment: 'prod', layers: ['cluster'], changes: [] });
    expect(await syncDriftIssue(api, { environment: 'prod', plan: clean, runUrl, reconciled: false })).toEqual({
      ...opened,
      action: 'closed',
    });
    expect(api.issues.find((i) => i.number === (opened as { number: number }).number)?.state).toBe('closed');
    expect(api.issues.find((i) => i.number === 77)?.state).toBe('open');
    expect(await syncDriftIssue(api, { environment: 'prod', plan: clean, runUrl, reconciled: false })).toEqual({
      action: 'none',
    });
  });
});

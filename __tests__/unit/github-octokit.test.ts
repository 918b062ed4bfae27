/** OctokitApi (the real @actions/github client) against the loopback GitHub stand-in. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { whoAmI } from '../../src/github/api.js';
import { OctokitApi } from '../../src/github/octokit-api.js';
import { findPlanComment, renderPlanComment, upsertPlanComment } from '../../src/github/plan-comment.js';
import { startGitHubApi, type GitHubStandIn } from '../helpers/github-api.js';
import { samplePlan } from '../helpers/plans.js';

let g: GitHubStandIn;
const repo = { owner: 'acme', repo: 'platform' };

beforeAll(async () => {
  g = await startGitHubApi({ tokens: { app: 'github-actions[bot]', pat: 'deploy-bot' } });
});
afterAll(() => g.close());
// The stand-in records every call it refuses or cannot route: there must be none.
afterEach(() => {
  expect(g.takeUnexpected()).toEqual([]);
});

describe('OctokitApi', () => {
  it('knows who it is, falling back to the Actions bot when GET /user is refused', async () => {
    expect(await whoAmI(new OctokitApi('pat', repo, g.url))).toBe('deploy-bot');
    await expect(new OctokitApi('app', repo, g.url).currentLogin()).rejects.toThrow();
    expect(await whoAmI(new OctokitApi('app', repo, g.url))).toBe('github-actions[bot]');
  });

  it('pages through comments and finds ours among many', async () => {
    const api = new OctokitApi('app', repo, g.url);
    const pr = g.addPull('busy PR');
    for (let i = 0; i < 130; i++) g.comments.push({ id: 10 + i, issue: pr, body: `chatter ${i}`, login: 'octocat' });
    const body = renderPlanComment({
      environment: 'prod',
      issueUrl: g.issueUrl(pr),
      runUrl: 'https://x/run',
      status: 'planned',
      plan: samplePlan(),
    });
    const id = await upsertPlanComment(api, pr, body, 'prod');
    expect((await api.listIssueComments(pr)).length).toBe(131);
    expect(g.requests.some((r) => r.path.includes('page=2'))).toBe(true);
    expect((await findPlanComment(api, pr, 'prod'))?.comment.id).toBe(id);
    expect(await upsertPlanComment(api, pr, body.replace('planned', 'applying'), 'prod')).toBe(id);
  });

  it('maps commit pulls and issues, leaving pull requests out of the issue list', async () => {
    const api = new OctokitApi('app', repo, g.url);
    g.commitPulls.set('abc123', [{ number: 5, mergeCommitSha: 'abc123', merged: true }]);
    expect(await api.pullsForCommit('abc123')).toEqual([
      { number: 5, issueUrl: g.issueUrl(5), mergeCommitSha: 'abc123', merged: true },
    ]);
    const issue = await api.createIssue('drift', 'body');
    expect(issue).toMatchObject({ title: 'drift', author: 'github-actions[bot]', state: 'open' });
    const open = await api.listOpenIssues('github-actions[bot]');
    expect(open.map((i) => i.number)).toEqual([issue.number]);
    await api.updateIssue(issue.number, { state: 'closed', body: 'gone' });
    expect(await api.listOpenIssues('github-actions[bot]')).toEqual([]);
  });

  it('answers 401 without a known token and 404 for a route it does not serve, recording both', async () => {
    const get = (p: string, token?: string) =>
      fetch(`${g.url}${p}`, { headers: token ? { authorization: `token ${token}` } : {} });
    expect((await get('/repos/acme/platform/issues')).status).toBe(401);
    expect((await get('/repos/acme/platform/issues', 'stolen')).status).toBe(401);
    expect((await get('/repos/acme/platform/actions/secrets', 'app')).status).toBe(404);
    const api = new OctokitApi('app', repo, g.url);
    await expect(api.updateIssue(99999, { state: 'closed' })).rejects.toThrow(/Not Found/);
    expect(g.takeUnexpected()).toEqual([
      'GET /repos/acme/platform/issues: no token',
      'GET /repos/acme/platform/issues: unknown token',
      'no route for GET /repos/acme/platform/actions/secrets',
    ]);
  });
});

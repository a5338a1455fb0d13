import { GitHubMock, testOctokit } from "./helpers/github-mock.js";
const mock = new GitHubMock().reaction("alice", "packages", 77);
console.log("mock ready");
const o = testOctokit();
const t = setTimeout(() => { console.log("timeout", mock.requests, mock.problems); process.exit(1); }, 15000);
const r = await o.request("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", { owner: "alice", repo: "packages", comment_id: 77, content: "eyes" });
console.log(r.status, r.data); clearTimeout(t); mock.close();

/**
 * The Lambda entrance builds its Probot itself (no `run`), so it must read GitHub Enterprise Server's
 * GHE_HOST/GHE_PROTOCOL like Probot does: installation tokens and API calls then go to `https://HOST/api/v3`.
 */
import "../helpers/promise-with-resolvers.js";
import { afterEach, describe, expect, it } from "@jest/globals";
import { probotFromEnv } from "../../src/lambda/webhooks.js";
import { appPrivateKey } from "../helpers/app-harness.js";
import { GitHubMock } from "../helpers/github-mock.js";

const settings = {
  APP_ID: "1",
  PRIVATE_KEY: appPrivateKey,
  WEBHOOK_SECRET: "secret",
  LOG_LEVEL: "fatal" as const,
};

let mock: GitHubMock | undefined;
afterEach(() => mock?.close());

describe("the Lambda Probot", () => {
  it("talks to the GHES API when GHE_HOST is set", async () => {
    mock = new GitHubMock("https://ghe.example.test/api/v3").installationToken(4242, {}, { times: 1 });
    const probot = await probotFromEnv({ ...settings, GHE_HOST: "ghe.example.test" }, () => {});
    mock.on("GET", "/repos/alice/packages/contents/PKGBUILD", { status: 200, body: "pkgname=x\n" });
    const octokit = await probot.auth(4242);
    expect(octokit.request.endpoint.DEFAULTS.baseUrl).toBe("https://ghe.example.test/api/v3");
    await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: "alice",
      repo: "packages",
      path: "PKGBUILD",
    });
    mock.assertDone();
    expect(mock.requests.map((r) => r.operationId)).toEqual([
      "apps/create-installation-access-token",
      "repos/get-content",
    ]);
  });

  it("honours GHE_PROTOCOL and defaults to github.com without GHE_HOST", async () => {
    const plain = await probotFromEnv(
      { ...settings, GHE_HOST: "ghe.local:8443", GHE_PROTOCOL: "http" },
      () => {},
    );
    expect((await plain.auth()).request.endpoint.DEFAULTS.baseUrl).toBe("http://ghe.local:8443/api/v3");
    const dotcom = await probotFromEnv(settings, () => {});
    expect((await dotcom.auth()).request.endpoint.DEFAULTS.baseUrl).toBe("https://api.github.com");
  });
});

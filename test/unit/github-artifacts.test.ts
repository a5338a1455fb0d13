/**
 * src/github/artifacts.ts against GitHubMock (OpenAPI-validated) and a local blob server: lookup by name,
 * expired and oversized artifacts as typed errors before any download, the token never sent to the blob host.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { ArtifactDownloadError, downloadArtifactZip, findRunArtifact } from "../../src/github/artifacts.js";
import { GitHubMock, testOctokit } from "../helpers/github-mock.js";

const owner = "alice";
const repo = "packages";
const ref = { owner, repo, runId: 555, pkgbase: "foo" };

let blob: Server;
let blobUrl: string;
let blobRequests: { url: string; headers: IncomingHttpHeaders }[] = [];
let mock: GitHubMock;

beforeAll(async () => {
  blob = createServer((req, res) => {
    blobRequests.push({ url: req.url ?? "", headers: req.headers });
    if (req.url?.startsWith("/ok")) res.writeHead(200, { "content-type": "application/zip" }).end("PK-bytes");
    else if (req.url?.startsWith("/chunked")) {
      // No Content-Length: the limit must hold while reading.
      res.writeHead(200, { "content-type": "application/zip" });
      res.write("PK-b");
      res.end("ytes");
    } else res.writeHead(500).end("broken");
  });
  await new Promise<void>((resolve) => blob.listen(0, "127.0.0.1", resolve));
  blobUrl = `http://127.0.0.1:${(blob.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => blob.close(() => resolve()));
});
beforeEach(() => {
  blobRequests = [];
  mock = new GitHubMock();
});
afterEach(() => mock.close());

function listArtifacts(artifacts: object[]) {
  mock.on(
    "GET",
    `/repos/${owner}/${repo}/actions/runs/555/artifacts`,
    { status: 200, body: { total_count: artifacts.length, artifacts } },
    { match: (r) => r.query.name === "arch-repo-foo" },
  );
}

const artifact = (extra: object = {}) => ({
  id: 7,
  name: "arch-repo-foo",
  size_in_bytes: 8,
  expired: false,
  expires_at: "2099-01-01T00:00:00Z",
  workflow_run: { id: 555 },
  ...extra,
});

async function problemOf(work: Promise<unknown>): Promise<string> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArtifactDownloadError);
  return (error as ArtifactDownloadError).problem;
}

describe("findRunArtifact", () => {
  it("returns the artifact named after the pkgbase with the run that uploaded it", async () => {
    listArtifacts([artifact()]);
    await expect(findRunArtifact(testOctokit(), ref)).resolves.toEqual({
      id: 7,
      name: "arch-repo-foo",
      sizeInBytes: 8,
      expired: false,
      runId: 555,
    });
    mock.assertDone();
  });

  it("an expired artifact is a clear error", async () => {
    listArtifacts([artifact({ expired: true, expires_at: "2026-01-01T00:00:00Z" })]);
    const error = await findRunArtifact(testOctokit(), ref).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactDownloadError);
    expect((error as ArtifactDownloadError).problem).toBe("expired");
    expect((error as Error).message).toMatch(/arch-repo-foo of alice\/packages run 555 has expired/);
    mock.assertDone();
  });

  it("no artifact of that name is not-found", async () => {
    listArtifacts([]);
    expect(await problemOf(findRunArtifact(testOctokit(), ref))).toBe("not-found");
    mock.assertDone();
  });
});

describe("downloadArtifactZip", () => {
  it("follows the 302 itself and sends no token to the blob host", async () => {
    mock.on("GET", `/repos/${owner}/${repo}/actions/artifacts/7/zip`, {
      status: 302,
      headers: { location: `${blobUrl}/ok?sig=x` },
    });
    const bytes = await downloadArtifactZip(testOctokit(), owner, repo, {
      id: 7,
      name: "arch-repo-foo",
      sizeInBytes: 8,
    });
    expect(new TextDecoder().decode(bytes)).toBe("PK-bytes");
    expect(blobRequests.map((r) => r.url)).toEqual(["/ok?sig=x"]);
    expect(blobRequests[0]?.headers.authorization).toBeUndefined();
    mock.assertDone();
  });

  it("refuses an artifact over the limit before asking GitHub for it", async () => {
    const work = downloadArtifactZip(testOctokit(), owner, repo, {
      id: 7,
      name: "arch-repo-foo",
      sizeInBytes: 3 * 1024 ** 3,
    });
    expect(await problemOf(work)).toBe("too-large");
    expect(mock.requests).toHaveLength(0);
  });

  it("stops reading a body that grows past the limit", async () => {
    mock.on("GET", `/repos/${owner}/${repo}/actions/artifacts/7/zip`, {
      status: 302,
      headers: { location: `${blobUrl}/chunked` },
    });
    const work = downloadArtifactZip(
      testOctokit(),
      owner,
      repo,
      { id: 7, name: "arch-repo-foo", sizeInBytes: 4 },
      { maxBytes: 4 },
    );
    expect(await problemOf(work)).toBe("too-large");
    mock.assertDone();
  });

  it("410 Gone from GitHub means expired; a failing blob host is a download error", async () => {
    mock.on("GET", `/repos/${owner}/${repo}/actions/artifacts/7/zip`, {
      status: 410,
      body: { message: "Artifact has expired" },
    });
    const a = { id: 7, name: "arch-repo-foo", sizeInBytes: 8 };
    expect(await problemOf(downloadArtifactZip(testOctokit(), owner, repo, a))).toBe("expired");
    mock.on("GET", `/repos/${owner}/${repo}/actions/artifacts/7/zip`, {
      status: 302,
      headers: { location: `${blobUrl}/broken` },
    });
    const work = downloadArtifactZip(testOctokit(), owner, repo, a);
    await expect(work).rejects.toThrow("artifact arch-repo-foo (7): the blob host answered 500");
    mock.assertDone();
  });
});

/** Our repository's DB over HTTP (local server) and from a file. */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { OurRepo, OurRepoError, ourRepoLocation, StorageOurRepo } from "../../src/resolve/our-repo.js";
import { type FileServer, startFileServer } from "../helpers/aur-server.js";
import { OUR_REPO_NAME, ourRepoDb } from "../helpers/our-repo-fixture.js";

let server: FileServer;
let dir: string;

beforeAll(async () => {
  server = await startFileServer({
    [`/x86_64/${OUR_REPO_NAME}.db`]: await ourRepoDb(),
    "/x86_64/broken.db": new TextEncoder().encode("this is not a database"),
  });
  dir = mkdtempSync(join(tmpdir(), "arb-our-repo-"));
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("ourRepoLocation", () => {
  it("uses --repo-db first, else REPO_BASE_URL/ARCH/REPO_NAME.db, URL or folder", () => {
    expect(
      ourRepoLocation({ override: "/x/y.db", repoBaseUrl: "https://r", arch: "x86_64", repoName: "r" }),
    ).toBe("/x/y.db");
    expect(ourRepoLocation({ repoBaseUrl: "https://repo.example/", arch: "x86_64", repoName: "mine" })).toBe(
      "https://repo.example/x86_64/mine.db",
    );
    expect(ourRepoLocation({ repoBaseUrl: "/srv/repo", arch: "aarch64", repoName: "mine" })).toBe(
      "/srv/repo/aarch64/mine.db",
    );
    expect(ourRepoLocation({ arch: "x86_64", repoName: "mine" })).toBeUndefined();
  });
});

describe("OurRepo", () => {
  it("downloads the DB once, then revalidates with its ETag (304, no download)", async () => {
    const repo = new OurRepo({
      location: `${server.url}/x86_64/${OUR_REPO_NAME}.db`,
      repoName: OUR_REPO_NAME,
    });
    const first = await repo.load();
    expect(first.byName("gef-git")).toMatchObject({ repo: OUR_REPO_NAME, version: "2023.01.r3.g5a1e0b2-1" });
    server.log.length = 0;
    expect(await repo.load()).toBe(first);
    expect(server.log).toEqual([{ path: `/x86_64/${OUR_REPO_NAME}.db`, status: 304 }]);
    expect(repo.requestsMade).toBe(2);
  });

  it("treats a repository that does not exist yet as empty", async () => {
    expect(
      (await new OurRepo({ location: `${server.url}/x86_64/none.db`, repoName: "none" }).load()).size,
    ).toBe(0);
    expect((await new OurRepo({ location: join(dir, "none.db"), repoName: "none" }).load()).size).toBe(0);
  });

  it("reads a DB file from a path", async () => {
    const path = join(dir, "ours.db");
    writeFileSync(path, await ourRepoDb());
    expect(
      (await new OurRepo({ location: path, repoName: OUR_REPO_NAME }).load()).byName("vivaldi")?.version,
    ).toBe("6.9.3447.54-1");
  });

  it("reports an unreadable DB or a server error instead of planning as if the repository were empty", async () => {
    const broken = new OurRepo({ location: `${server.url}/x86_64/broken.db`, repoName: "broken" });
    await expect(broken.load()).rejects.toBeInstanceOf(OurRepoError);
    await expect(broken.load()).rejects.toThrow(/our repository DB .*broken\.db is not readable/);
    server.down = true;
    try {
      await expect(
        new OurRepo({ location: `${server.url}/x86_64/${OUR_REPO_NAME}.db`, repoName: "x" }).load(),
      ).rejects.toThrow(/cannot download our repository DB/);
    } finally {
      server.down = false;
    }
  });
});

describe("StorageOurRepo", () => {
  it("reads our DB from the storage backend (the filesystem one here), empty when absent", async () => {
    const { FsStorage } = await import("../../src/publish/fs-storage.js");
    const storage = new FsStorage(join(dir, "storage"));
    const absent = new StorageOurRepo(storage, `x86_64/${OUR_REPO_NAME}.db`, OUR_REPO_NAME);
    expect((await absent.load()).size).toBe(0);
    await storage.put(`x86_64/${OUR_REPO_NAME}.db`, await ourRepoDb());
    const index = await new StorageOurRepo(storage, `x86_64/${OUR_REPO_NAME}.db`, OUR_REPO_NAME).load();
    expect(index.byName("010editor")?.version).toBe("15.0.1-1");
  });
});

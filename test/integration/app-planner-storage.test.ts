/**
 * The app's planner reads our repository from the app's own storage (the embedded folder here; S3 in
 * production), so a package we already published counts as ours without any public REPO_BASE_URL.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { writeRepoDb } from "../../src/archive/repo-db.js";
import { plannerFromEnv } from "../../src/handlers/deps.js";
import { FsStorage } from "../../src/publish/fs-storage.js";
import { descEntry } from "../helpers/desc-entry.js";

describe("plannerFromEnv", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "arb-planner-storage-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("sees what is published in the app's storage, per repository and architecture", async () => {
    const storage = new FsStorage(join(dir, "repo"));
    const db = await writeRepoDb([descEntry("yay", "12.4.2-1", { provides: ["yay-bin=12.4.2"] })], {
      compression: "gzip",
    });
    await storage.put("x86_64/myrepo.db", db);
    const planner = plannerFromEnv({ DATA_DIR: dir, AUR_URL: "http://127.0.0.1:9" }, storage);

    const ours = await planner.ours({ repoName: "myrepo", arch: "x86_64" });
    expect(ours.byName("yay")?.version).toBe("12.4.2-1");
    expect(ours.resolve({ name: "yay-bin", op: ">=", version: "12" })?.pkg.name).toBe("yay");
    // Another repository name has no DB yet: empty, not an error.
    const testing = await planner.ours({ repoName: "myrepo-testing", arch: "x86_64" });
    expect(testing.byName("yay")).toBeUndefined();
  });
});

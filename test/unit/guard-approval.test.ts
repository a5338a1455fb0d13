/**
 * Held jobs and approval across a restart: the real file StateStore in a temp dir, a fresh BuildService (and
 * store instance) after the "restart", recording fakes only for the GitHub/publisher ports.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { type BuildPorts, BuildService } from "../../src/build/build-service.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Build, Job, PlannedJob } from "../../src/build/model.js";
import {
  approveHeldJob,
  RejectedApprovalError,
  rejectHeldJob,
  SupplyChainGuard,
} from "../../src/guard/guard.js";
import { loadGuardCase } from "../helpers/guard-fixtures.js";

class RecordingPorts implements BuildPorts {
  dispatched: string[] = [];
  private run = 1;
  async dispatch(_build: Build, jobs: readonly Job[]) {
    this.dispatched.push(...jobs.map((j) => j.pkgbase));
    return { runId: this.run++ };
  }
  async reportProgress() {}
  async publish(): Promise<"pending"> {
    return "pending";
  }
  async notify() {}
}

const meta = {
  repository: { owner: "alice", name: "packages", installationId: 1 },
  branch: "main",
  repo: "alicerepo",
  headSha: "0".repeat(40),
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "guard-approval-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A plan where hello-cli (AUR, first build → held), its dependant, and an unrelated local package. */
async function guardedPlan(stateDir: string): Promise<PlannedJob[]> {
  const c = loadGuardCase("same-maintainer-update");
  const guard = new SupplyChainGuard({
    store: new FileStateStore(stateDir),
    aurUrl: "http://127.0.0.1:9",
    fetchTree: async () => c.new.files,
    maintainerOf: async () => c.new.maintainer,
  });
  const job = (pkgbase: string, source: "aur" | "local", needs: string[] = []): PlannedJob => ({
    pkgbase,
    pkgnames: [pkgbase],
    version: "1.1.0-1",
    source,
    ref: c.new.commit,
    reason: "new",
    needs,
  });
  const { plan } = await guard.checkPlan(
    [job("hello-cli", "aur"), job("hello-gui", "local", ["hello-cli"]), job("unrelated", "local")],
    { review: "flagged", trustedMaintainers: [] },
  );
  return plan;
}

describe("approval of held AUR builds", () => {
  it("a waiting job survives a restart and approve moves it (and then its dependant) on", async () => {
    const stateDir = join(dir, "restart");
    const plan = await guardedPlan(stateDir);
    expect(plan.map((j) => j.approvalReason)).toEqual(["needs approval: new", undefined, undefined]);

    const portsBefore = new RecordingPorts();
    const before = new BuildService({ store: new FileStateStore(stateDir), ports: portsBefore });
    const build = await before.startBuild(plan, meta);
    // Waiting packages do not block unrelated ones; dependants wait with them.
    expect(portsBefore.dispatched).toEqual(["unrelated"]);

    // "Restart": new store instance and a new service over the same data folder.
    const store = new FileStateStore(stateDir);
    const ports = new RecordingPorts();
    const after = new BuildService({ store, ports });
    await after.resume();
    const waiting = await store.getJob(build.id, "hello-cli");
    expect(waiting?.state).toBe("awaiting-approval");
    expect(waiting?.stateReason).toBe("needs approval: new");
    expect((await store.getJob(build.id, "hello-gui"))?.state).toBe("planned");
    expect(ports.dispatched).toEqual([]);

    expect(await approveHeldJob(after, { buildId: build.id, pkgbase: "hello-cli" }, "octocat")).toBe(true);
    const approved = await store.getJob(build.id, "hello-cli");
    expect(approved?.state).toBe("dispatched");
    expect(approved?.approvedBy).toBe("octocat");
    expect(ports.dispatched).toEqual(["hello-cli"]);
    // A second approval (a double click, a redelivered comment) changes nothing.
    expect(await approveHeldJob(after, { buildId: build.id, pkgbase: "hello-cli" }, "someone")).toBe(false);
    expect((await store.getJob(build.id, "hello-cli"))?.approvedBy).toBe("octocat");

    await after.onJobEvent(
      { buildId: build.id, pkgbase: "hello-cli" },
      { status: "completed", conclusion: "success", runId: 1 },
    );
    await after.onPublished(build.id, "hello-cli");
    expect(ports.dispatched).toEqual(["hello-cli", "hello-gui"]);
  });

  it("always records who approved: an empty name is refused before anything changes", async () => {
    const stateDir = join(dir, "who");
    const plan = await guardedPlan(stateDir);
    const store = new FileStateStore(stateDir);
    const service = new BuildService({ store, ports: new RecordingPorts() });
    const build = await service.startBuild(plan, meta);
    for (const who of ["", "  ", "evil\nname"])
      await expect(approveHeldJob(service, { buildId: build.id, pkgbase: "hello-cli" }, who)).rejects.toThrow(
        RejectedApprovalError,
      );
    await expect(approveHeldJob(service, { buildId: build.id, pkgbase: "../x" }, "octocat")).rejects.toThrow(
      /pkgbase/,
    );
    expect((await store.getJob(build.id, "hello-cli"))?.state).toBe("awaiting-approval");
  });

  it("reject fails the held job, skips its dependants and finishes the build", async () => {
    const stateDir = join(dir, "reject");
    const plan = await guardedPlan(stateDir);
    const store = new FileStateStore(stateDir);
    const ports = new RecordingPorts();
    const service = new BuildService({ store, ports });
    const build = await service.startBuild(plan, meta);
    await service.onJobEvent(
      { buildId: build.id, pkgbase: "unrelated" },
      { status: "completed", conclusion: "success", runId: 1 },
    );
    await service.onPublished(build.id, "unrelated");

    expect(
      await rejectHeldJob(service, store, { buildId: build.id, pkgbase: "hello-cli" }, "octocat", {
        reason: "new download domain",
      }),
    ).toBe(true);
    const rejected = await store.getJob(build.id, "hello-cli");
    expect(rejected?.state).toBe("failed");
    expect(rejected?.stateReason).toBe("rejected by octocat: new download domain");
    expect((await store.getJob(build.id, "hello-gui"))?.state).toBe("skipped");
    expect((await store.getBuild(build.id))?.state).toBe("closed");
    expect(ports.dispatched).toEqual(["unrelated"]);
    // Neither approve nor reject can bring it back.
    expect(await approveHeldJob(service, { buildId: build.id, pkgbase: "hello-cli" }, "octocat")).toBe(false);
    expect(await rejectHeldJob(service, store, { buildId: build.id, pkgbase: "hello-cli" }, "octocat")).toBe(
      false,
    );
  });
});

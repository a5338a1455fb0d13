/**
 * Structured logs of the build service (issue 8: "build id and pkgbase on every line"): a real pino logger (the
 * one Probot wraps) writing JSON lines into memory, a build over the file store with recording ports, and every
 * line it wrote is checked for the fields a log search filters on.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { type BuildNotification, type BuildPorts, BuildService } from "../../src/build/build-service.js";
import { FileStateStore } from "../../src/build/file-state-store.js";
import type { Build, Job } from "../../src/build/model.js";
import { capturingLogger, type LogLine } from "../helpers/log-lines.js";
import { plannedJob } from "../helpers/planned-job.js";

const INFO = 30;
const WARN = 40;
const ERROR = 50;

class RecordingPorts implements BuildPorts {
  readonly runs = new Map<string, number>();
  private nextRun = 500;
  async dispatch(_build: Build, jobs: readonly Job[]) {
    const runId = this.nextRun++;
    for (const job of jobs) this.runs.set(job.pkgbase, runId);
    return { runId, htmlUrl: `https://github.test/runs/${runId}` };
  }
  async reportProgress() {}
  async publish(_build: Build, job: Job): Promise<"published" | "pending"> {
    if (job.pkgbase === "app") throw new Error("signing key unreadable");
    return "pending";
  }
  async notify(notification: BuildNotification) {
    if (notification.kind === "job-failed") throw new Error("pushover unreachable");
  }
}

describe("build service logs", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "arb-build-logs-"));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("puts buildId, repo and repository on every line, and pkgbase on every line about a job", async () => {
    const { logger, lines } = capturingLogger();
    const ports = new RecordingPorts();
    let now = 1_000_000;
    const store = new FileStateStore(dir);
    const service = new BuildService({ store, ports, clock: () => now, logger });
    const build = await service.startBuild(
      [
        plannedJob("liba"),
        plannedJob("app", ["liba"]),
        plannedJob("broken"),
        plannedJob("needs-broken", ["broken"]),
      ],
      {
        repository: { owner: "alice", name: "packages", installationId: 1 },
        branch: "main",
        repo: "alicerepo",
        headSha: "0".repeat(40),
        maxParallel: 4,
      },
    );
    const run = (pkgbase: string) => ({ runId: ports.runs.get(pkgbase) as number, pkgbase });
    now += 1000;
    await service.onJobEvent(run("liba"), { status: "in_progress" });
    await service.onJobEvent(run("liba"), { status: "completed", conclusion: "success" });
    await service.onPublished(build.id, "liba");
    await service.onJobEvent(run("broken"), { status: "completed", conclusion: "failure" });
    await service.onJobEvent(run("app"), { status: "completed", conclusion: "success" });

    expect((await store.getBuild(build.id))?.state).toBe("closed");
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      expect(line).toMatchObject({ buildId: build.id, repo: "alicerepo", repository: "alice/packages" });
      if (line.msg.startsWith("job ")) {
        expect(["liba", "app", "broken", "needs-broken"]).toContain(line.pkgbase);
        expect(line.attempt).toBe(1);
      }
    }

    const story = lines.map((l) => [l.level, l.pkgbase ?? "", l.msg]);
    expect(story).toEqual(
      expect.arrayContaining([
        [INFO, "", "build started"],
        [INFO, "liba", "job dispatching"],
        [INFO, "liba", "job running"],
        [INFO, "liba", "job built"],
        [INFO, "liba", "job published"],
        [INFO, "app", "job dispatching"],
        [INFO, "app", "job built"],
        [WARN, "app", "job failed"],
        [WARN, "broken", "job failed"],
        [INFO, "needs-broken", "job skipped"],
        [ERROR, "broken", "notification failed"],
        [INFO, "", "build closed: failure"],
      ]),
    );
    const failedApp = lines.find((l) => l.pkgbase === "app" && l.msg === "job failed");
    expect(failedApp?.reason).toBe("publish failed: signing key unreadable");
    const failedBroken = lines.find((l) => l.pkgbase === "broken" && l.msg === "job failed");
    expect(failedBroken).toMatchObject({ from: "dispatched", runId: ports.runs.get("broken") });
    expect(failedBroken?.reason).toBe("GitHub Actions job failure");
    const notifyError = lines.find((l) => l.msg === "notification failed");
    expect(notifyError?.err?.message).toBe("pushover unreachable");
    expect(notifyError?.err?.stack).toContain("RecordingPorts.notify");
    expect(lines.at(-1)).toMatchObject({
      msg: "build closed: failure",
      conclusion: "failure",
      jobs: { published: 1, failed: 2, skipped: 1 },
    });
  });

  it("without a logger, errors still reach stderr as JSON with the build's fields", async () => {
    const written: string[] = [];
    const original = console.error;
    console.error = (line: unknown) => void written.push(String(line));
    try {
      const service = new BuildService({ store: new FileStateStore(dir), ports: new RecordingPorts() });
      const build = await service.startBuild([plannedJob("broken")], {
        repository: { owner: "alice", name: "packages" },
        branch: "main",
        repo: "alicerepo",
        headSha: "0".repeat(40),
      });
      await service.onJobEvent({ buildId: build.id, pkgbase: "broken" }, { status: "completed" });
      const parsed = written.map((w) => JSON.parse(w) as LogLine);
      expect(parsed).toEqual([
        expect.objectContaining({
          level: "error",
          msg: "notification failed",
          buildId: build.id,
          pkgbase: "broken",
          repo: "alicerepo",
          err: expect.objectContaining({ message: "pushover unreachable" }),
        }),
      ]);
    } finally {
      console.error = original;
    }
  });
});

/**
 * What a person is told about a finished build (Pushover): failures with their reasons and links at normal
 * priority, otherwise a short quiet summary of what was published. Single job failures are not sent on their
 * own; the build's end message lists them all (one message per build, not one per package).
 */
import type { BuildNotification } from "../build/build-service.js";
import type { NotifyMessage } from "../notify/pushover.js";

export function notificationMessage(notification: BuildNotification): NotifyMessage | undefined {
  if (notification.kind === "awaiting-approval") return awaitingApprovalMessage(notification);
  if (notification.kind !== "build-finished") return undefined;
  const { build, jobs } = notification;
  const where = `${build.repository.owner}/${build.repository.name} → ${build.repo}`;
  const failed = jobs.filter((j) => j.state === "failed");
  const skipped = jobs.filter((j) => j.state === "skipped");
  const published = jobs.filter((j) => j.state === "published");
  if (failed.length > 0 || skipped.length > 0) {
    const lines = [
      ...failed.map((j) => `✗ ${j.pkgbase} ${j.version}: ${j.stateReason ?? j.error ?? "failed"}`),
      ...skipped.map((j) => `– ${j.pkgbase}: ${j.stateReason ?? "skipped"}`),
      ...(published.length > 0 ? [`✓ ${published.map((j) => `${j.pkgbase} ${j.version}`).join(", ")}`] : []),
    ];
    const link = failed.find((j) => j.htmlUrl)?.htmlUrl;
    return {
      title: `${where}: ${failed.length} failed, ${skipped.length} skipped`,
      message: lines.join("\n"),
      ...(link ? { url: link, urlTitle: "Build log" } : {}),
      priority: 0,
    };
  }
  if (published.length === 0) return undefined;
  return {
    title: `${where}: ${published.length} published`,
    message: published.map((j) => `${j.pkgbase} ${j.version} (${j.reason})`).join("\n"),
    priority: -1,
  };
}

/** Held AUR packages wait for `/approve NAME` or the Approve button; say which and why (issue 9). */
function awaitingApprovalMessage(
  notification: Extract<BuildNotification, { kind: "awaiting-approval" }>,
): NotifyMessage {
  const { build, jobs } = notification;
  const where = `${build.repository.owner}/${build.repository.name} → ${build.repo}`;
  return {
    title: `${where}: ${jobs.length} waiting for approval`,
    message: jobs
      .map((j) => `⏸ ${j.pkgbase} ${j.version}: ${j.approvalReason ?? j.stateReason ?? "review required"}`)
      .concat("Approve with /approve NAME or the check run's Approve button.")
      .join("\n"),
    priority: 0,
  };
}

/**
 * Which packages repositories get a scheduled update check, and when: every repository the app knows (it saved
 * its settings on a push: `github-repo-settings` records), authenticated as the app's installation there. Three
 * entrances share this: the app's own tick (`tick`, when `updates.everyHours` have passed), the HTTP endpoint
 * (`start`, work in the background) and the Lambda schedule (`runAll`, awaited).
 */
import type { Probot } from "probot";
import { httpStatus, type Octokit } from "../github/octokit.js";
import { REPO_SETTINGS_KIND, type RepoSettings } from "../services/repo-settings.js";
import type { ServiceRuntime } from "../services/runtime.js";
import {
  type Claim,
  type ClaimMode,
  CONFIG_RECHECK_MS,
  claimCheck,
  finishCheck,
  hoursMs,
  IDLE_RECHECK_MS,
} from "./check-claims.js";
import {
  type CheckTrigger,
  messageOf,
  runScheduledCheck,
  type ScheduledCheckOutcome,
} from "./scheduled-run.js";

/** How the app finds and authenticates as its installation on a repository. */
export interface InstallationLookup {
  /** undefined when the app is not installed there (any more). */
  installation(owner: string, repo: string): Promise<{ id: number; appSlug?: string } | undefined>;
  octokit(installationId: number): Promise<Octokit>;
}

/** `GET /repos/{owner}/{repo}/installation` with the app's own JWT, then `robot.auth(id)`. */
export function probotInstallations(robot: Probot): InstallationLookup {
  return {
    async installation(owner, repo) {
      const app = (await robot.auth()) as Octokit;
      try {
        const { data } = await app.request("GET /repos/{owner}/{repo}/installation", { owner, repo });
        return { id: data.id, ...(data.app_slug ? { appSlug: data.app_slug } : {}) };
      } catch (error) {
        if (httpStatus(error) === 404) return undefined;
        throw error;
      }
    },
    octokit: async (id) => (await robot.auth(id)) as Octokit,
  };
}

export interface CheckResult {
  /** `owner/name`. */
  readonly repository: string;
  /** `not due` (or claimed by another instance), `not installed`, `error: …`, or the outcome's kind. */
  readonly outcome: string;
  readonly conclusion?: string;
}

export type StartResult =
  | { readonly kind: "started"; readonly started: readonly string[]; readonly busy: readonly string[] }
  | { readonly kind: "unknown-repository"; readonly repository: string };

export interface ScheduledChecksOptions {
  readonly runtime: ServiceRuntime;
  readonly github: InstallationLookup;
  readonly log?: (message: string, error?: unknown) => void;
}

function nextDueAfter(outcome: ScheduledCheckOutcome, startedAt: number, now: number): number {
  switch (outcome.kind) {
    case "checked":
      return outcome.everyHours > 0 ? startedAt + hoursMs(outcome.everyHours) : now + CONFIG_RECHECK_MS;
    case "off":
      return now + CONFIG_RECHECK_MS;
    case "no-config":
    case "invalid-config":
      return now + IDLE_RECHECK_MS;
  }
}

export class ScheduledChecks {
  #ticking = false;
  readonly #runtime: ServiceRuntime;
  readonly #github: InstallationLookup;
  readonly #log: (message: string, error?: unknown) => void;

  constructor(options: ScheduledChecksOptions) {
    this.#runtime = options.runtime;
    this.#github = options.github;
    this.#log = options.log ?? (() => {});
  }

  /** `owner/name` of every packages repository the app has seen a push of. */
  async knownRepositories(): Promise<string[]> {
    const records = await this.#runtime.deps.store.listRecords(REPO_SETTINGS_KIND);
    return records.map((r) => r.key).filter((k) => /^[^/]+\/[^/]+$/.test(k));
  }

  /** The app's timer: checks the repositories whose `everyHours` have passed, one after the other. */
  async tick(): Promise<CheckResult[]> {
    // A tick that outlasts the period (many repositories, slow AUR) is not overlapped by the next one.
    if (this.#ticking) return [];
    this.#ticking = true;
    try {
      const results: CheckResult[] = [];
      for (const repository of await this.knownRepositories()) {
        results.push(await this.#claimAndRun(repository, "due", "schedule"));
      }
      return results;
    } finally {
      this.#ticking = false;
    }
  }

  /** An external scheduler's run (Lambda): every known repository now, unless its check is running; awaited. */
  async runAll(): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    for (const repository of await this.knownRepositories()) {
      results.push(await this.#claimAndRun(repository, "now", "request"));
    }
    return results;
  }

  /**
   * The HTTP endpoint: claims now (so the answer says what was started), runs in the app's background tasks.
   * `repository` must be one the app knows.
   */
  async start(repository?: string): Promise<StartResult> {
    const known = await this.knownRepositories();
    let wanted = known;
    if (repository !== undefined) {
      const match = known.find((k) => k.toLowerCase() === repository.toLowerCase());
      if (!match) return { kind: "unknown-repository", repository };
      wanted = [match];
    }
    const started: string[] = [];
    const busy: string[] = [];
    for (const key of wanted) {
      const claim = await claimCheck(
        this.#runtime.deps.store,
        key,
        this.#runtime.deps.clock(),
        "now",
        "request",
      );
      if (!claim) {
        busy.push(key);
        continue;
      }
      started.push(key);
      this.#runtime.tasks.run(`update check of ${key}`, async () => {
        await this.#run(key, claim, "request");
      });
    }
    return { kind: "started", started, busy };
  }

  async #claimAndRun(repository: string, mode: ClaimMode, trigger: CheckTrigger): Promise<CheckResult> {
    const claim = await claimCheck(
      this.#runtime.deps.store,
      repository,
      this.#runtime.deps.clock(),
      mode,
      trigger,
    );
    if (!claim) return { repository, outcome: "not due" };
    return this.#run(repository, claim, trigger);
  }

  async #run(repository: string, claim: Claim, trigger: CheckTrigger): Promise<CheckResult> {
    const { store, clock } = this.#runtime.deps;
    const [owner, repo] = repository.split("/") as [string, string];
    const finish = async (nextDueAt: number, outcome: string) => {
      if (!(await finishCheck(store, claim, clock(), nextDueAt, trigger, outcome)))
        this.#log(`update check of ${repository}: another instance took over meanwhile`);
    };
    try {
      const installation = await this.#github.installation(owner, repo);
      if (!installation) {
        await finish(clock() + IDLE_RECHECK_MS, "not installed");
        return { repository, outcome: "not installed" };
      }
      const octokit = await this.#github.octokit(installation.id);
      const outcome = await runScheduledCheck(
        this.#runtime,
        octokit,
        {
          owner,
          repo,
          installationId: installation.id,
          ...(installation.appSlug ? { appSlug: installation.appSlug } : {}),
        },
        trigger,
      );
      const conclusion = outcome.kind === "checked" ? outcome.conclusion : undefined;
      const described = conclusion ? `${outcome.kind}: ${conclusion}` : outcome.kind;
      await finish(nextDueAfter(outcome, claim.startedAt, clock()), described);
      return { repository, outcome: outcome.kind, ...(conclusion ? { conclusion } : {}) };
    } catch (error) {
      // GitHub could not be read (or a bug): try again in an hour, and tell the person.
      this.#log(`update check of ${repository} failed`, error);
      await this.#alert(repository, messageOf(error));
      await finish(clock() + CONFIG_RECHECK_MS, `error: ${messageOf(error)}`).catch((e: unknown) =>
        this.#log(`update check of ${repository}: the end could not be recorded`, e),
      );
      return { repository, outcome: `error: ${messageOf(error)}` };
    }
  }

  async #alert(repository: string, message: string): Promise<void> {
    const { deps } = this.#runtime;
    if (!deps.notifyMessage) return;
    const settings = await deps.store
      .getRecord<RepoSettings>(REPO_SETTINGS_KIND, repository)
      .catch(() => undefined);
    if (settings?.value.pushover === false) return;
    await deps.notifyMessage({
      title: `${repository}: scheduled update check failed`,
      message,
      priority: 0,
    });
  }
}

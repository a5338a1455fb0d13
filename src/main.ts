/**
 * `npm start`: runs the app with Probot's server. Without APP_ID/PRIVATE_KEY Probot serves its
 * setup page (register the GitHub App from app.yml); without AWS settings the embedded default
 * state and repository under DATA_DIR are used. With credentials the app needs a builder action for the
 * workflow it proposes (`BUILDER_ACTION`, or the default package.json gives): without one it exits with a
 * message naming the setting.
 */
import { unsupportedNodeMessage } from "./config/node-version.js";

const refusal = unsupportedNodeMessage();
if (refusal) {
  console.error(refusal);
  process.exit(1);
}

// Loaded after the version check, so an old Node gets the message above rather than a dependency's error.
const [{ run }, { default: app }, { archRepoOctokit }, { InvalidBuilderActionError }] = await Promise.all([
  import("probot"),
  import("./app.js"),
  import("./github/octokit-throttle.js"),
  import("./config/builder-action.js"),
]);

try {
  // Secondary rate limits retried, 502s retried (see octokit-throttle.ts).
  await run(app, { Octokit: archRepoOctokit() });
} catch (error) {
  // A setting the app cannot start without (BUILDER_ACTION): the message says what to set, no stack trace.
  if (!(error instanceof InvalidBuilderActionError)) throw error;
  console.error(`arch-repo-bot cannot start: ${error.message}`);
  process.exit(1);
}

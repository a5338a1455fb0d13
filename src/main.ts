/**
 * `npm start`: runs the app with Probot's server. Without APP_ID/PRIVATE_KEY Probot serves its
 * setup page (register the GitHub App from app.yml); without AWS settings the embedded default
 * state and repository under DATA_DIR are used.
 */
import { unsupportedNodeMessage } from "./config/node-version.js";

const refusal = unsupportedNodeMessage();
if (refusal) {
  console.error(refusal);
  process.exit(1);
}

// Loaded after the version check, so an old Node gets the message above rather than a dependency's error.
const [{ run }, { default: app }, { archRepoOctokit }] = await Promise.all([
  import("probot"),
  import("./app.js"),
  import("./github/octokit-throttle.js"),
]);

// Secondary rate limits retried, 502s retried (see octokit-throttle.ts).
await run(app, { Octokit: archRepoOctokit() });

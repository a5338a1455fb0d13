/**
 * `npm start`: runs the app with Probot's server. Without APP_ID/PRIVATE_KEY Probot serves its
 * setup page (register the GitHub App from app.yml); without AWS settings the embedded default
 * state and repository under DATA_DIR are used.
 */
import { run } from "probot";
import app from "./app.js";
import { archRepoOctokit } from "./github/octokit-throttle.js";

// Secondary rate limits retried, 502s retried (see octokit-throttle.ts).
await run(app, { Octokit: archRepoOctokit() });

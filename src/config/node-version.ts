/**
 * The supported Node.js line is 22 LTS and newer: the AWS SDK for JavaScript v3 drops Node 20 in its
 * releases after January 2027, Octokit's `@octokit/request` (through `content-type@3`) already declares
 * `node >=22`, and Node 20 itself left maintenance in April 2026. `npm ci` installs a pinned Node 22
 * (`optionalDependencies: node-<platform>`), which every `npm run`/`npm start`/`npm test` uses ahead of
 * an older system Node; where no such package exists for the platform (macOS on arm64) the system Node
 * must be 22 or newer, and this check says so instead of failing later in a dependency.
 */
export const minimumNodeMajor = 22;

export function unsupportedNodeMessage(version: string = process.versions.node): string | undefined {
  const major = Number.parseInt(version.split(".")[0] ?? "", 10);
  if (Number.isInteger(major) && major >= minimumNodeMajor) return undefined;
  return (
    `arch-repo-bot needs Node.js ${minimumNodeMajor} or newer; this is Node.js ${version}. ` +
    "Run it through npm (npm start, npx arch-repo-bot) after npm ci, which installs Node.js 22 on " +
    "Linux x64/arm64, macOS x64 and Windows x64, or install Node.js 22 LTS."
  );
}

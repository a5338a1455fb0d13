/**
 * Writes schema/arch-repo.schema.json from the zod schema of `.github/arch-repo.yml` (src/config/repo-config.ts),
 * formatted by Biome like every other file. Run: `npx tsx scripts/generate-config-schema.ts`.
 * test/unit/repo-config.test.ts fails when the file is stale.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderRepoConfigJsonSchema } from "../src/config/repo-config.js";

const schemaPath = fileURLToPath(new URL("../schema/arch-repo.schema.json", import.meta.url));
writeFileSync(schemaPath, renderRepoConfigJsonSchema());
execFileSync("npx", ["biome", "format", "--write", schemaPath], { stdio: "inherit" });
console.log(`wrote ${schemaPath}`);

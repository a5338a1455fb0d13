/**
 * Chooses the StateStore implementation from the environment. Apart from state-store.ts so that the port does
 * not import its implementations, which import the port (ConflictError): no import circle.
 */
import type { StateStore } from "./state-store.js";

/**
 * The store the app uses: DynamoDB when `DYNAMODB_TABLE` is set (endpoint, region and credentials from the AWS
 * SDK's standard variables such as `AWS_ENDPOINT_URL_DYNAMODB`; the table is created when missing unless
 * `DYNAMODB_CREATE_TABLE=false`), otherwise JSON files under `DATA_DIR` (default `./data`).
 */
export async function stateStoreFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<StateStore> {
  const table = env.DYNAMODB_TABLE?.trim();
  if (table) {
    const { DynamoDbStateStore } = await import("./dynamodb-state-store.js");
    const store = DynamoDbStateStore.fromEnv(table, env);
    if (env.DYNAMODB_CREATE_TABLE?.trim().toLowerCase() !== "false") await store.ensureTable();
    return store;
  }
  const { FileStateStore } = await import("./file-state-store.js");
  const { join } = await import("node:path");
  return new FileStateStore(join(env.DATA_DIR?.trim() || "./data", "state"));
}

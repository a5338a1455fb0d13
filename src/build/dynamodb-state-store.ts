/**
 * StateStore on DynamoDB: one table, string keys `pk` (partition) and `sk` (sort), a `version` number for
 * conditional writes, the value as a JSON string in `data`, and `expiresAt` (epoch SECONDS, DynamoDB's TTL
 * format) on items that expire (delivery records). DynamoDB deletes expired items lazily (up to days later),
 * so expiry is also checked on read (`expiresAtMs`).
 * Endpoint, region and credentials come from the AWS SDK's standard settings (`AWS_ENDPOINT_URL_DYNAMODB`…).
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { type KvItem, KvStateStore, type VersionedKv } from "./kv-state-store.js";
import { ConflictError } from "./state-store.js";

export class DynamoDbStateStore extends KvStateStore {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
    clock?: () => number,
  ) {
    super(new DynamoKv(DynamoDBDocumentClient.from(client), tableName), clock);
  }

  /** A client configured by the SDK's own environment lookup (region, endpoint, credentials). */
  static fromEnv(tableName: string, env: NodeJS.ProcessEnv = process.env): DynamoDbStateStore {
    const config: DynamoDBClientConfig = {};
    // The SDK reads these from process.env itself; an explicit env object (tests, CLI) is honoured too.
    if (env !== process.env) {
      if (env.AWS_REGION) config.region = env.AWS_REGION;
      const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
      if (endpoint) config.endpoint = endpoint;
      if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)
        config.credentials = {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        };
    }
    return new DynamoDbStateStore(new DynamoDBClient(config), tableName);
  }

  /** Creates the table (on-demand capacity) when missing and waits until it is active. Safe to race. */
  async ensureTable(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    try {
      const { Table } = await this.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      if (Table?.TableStatus === "ACTIVE") return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      try {
        await this.client.send(
          new CreateTableCommand({
            TableName: this.tableName,
            BillingMode: "PAY_PER_REQUEST",
            AttributeDefinitions: [
              { AttributeName: "pk", AttributeType: "S" },
              { AttributeName: "sk", AttributeType: "S" },
            ],
            KeySchema: [
              { AttributeName: "pk", KeyType: "HASH" },
              { AttributeName: "sk", KeyType: "RANGE" },
            ],
          }),
        );
      } catch (createError) {
        if (!(createError instanceof ResourceInUseException)) throw createError; // created by someone else
      }
    }
    for (;;) {
      const { Table } = await this.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      if (Table?.TableStatus === "ACTIVE") break;
      if (Date.now() > deadline)
        throw new Error(`DynamoDB table ${this.tableName} is not active after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
    try {
      await this.client.send(
        new UpdateTimeToLiveCommand({
          TableName: this.tableName,
          TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
        }),
      );
    } catch (error) {
      // dynalite (the local test double) does not implement UpdateTimeToLive; expiry is also checked on read.
      if ((error as { name?: string }).name !== "UnknownOperationException") throw error;
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

class DynamoKv implements VersionedKv {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(pk: string, sk: string): Promise<KvItem | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk, sk }, ConsistentRead: true }),
    );
    return Item ? toKvItem(Item) : undefined;
  }

  async put(
    pk: string,
    sk: string,
    value: unknown,
    options: { ifVersion?: number; expiresAt?: number } = {},
  ) {
    const names: Record<string, string> = { "#v": "version", "#d": "data" };
    const values: Record<string, unknown> = { ":zero": 0, ":one": 1, ":d": JSON.stringify(value) };
    let update = "SET #v = if_not_exists(#v, :zero) + :one, #d = :d";
    names["#e"] = "expiresAt";
    names["#em"] = "expiresAtMs";
    if (options.expiresAt !== undefined) {
      update += ", #e = :e, #em = :em";
      values[":e"] = Math.ceil(options.expiresAt / 1000);
      values[":em"] = options.expiresAt;
    } else {
      update += " REMOVE #e, #em";
    }
    let condition: string | undefined;
    if (options.ifVersion === 0) condition = "attribute_not_exists(pk)";
    else if (options.ifVersion !== undefined) {
      condition = "#v = :expected";
      values[":expected"] = options.ifVersion;
    }
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk, sk },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return Number(Attributes?.version);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ConflictError(`${pk} ${sk}`);
      throw error;
    }
  }

  async delete(pk: string, sk: string, options: { ifVersion?: number } = {}): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk, sk },
          ...(options.ifVersion !== undefined
            ? {
                ConditionExpression: "#v = :expected",
                ExpressionAttributeNames: { "#v": "version" },
                ExpressionAttributeValues: { ":expected": options.ifVersion },
              }
            : {}),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ConflictError(`${pk} ${sk}`);
      throw error;
    }
  }

  async queryPage(
    pk: string,
    options: { reverse?: boolean; limit: number; startAfter?: string },
  ): Promise<{ items: { sk: string; item: KvItem }[]; next?: string }> {
    const page: QueryCommandOutput = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": pk },
        ConsistentRead: true,
        ScanIndexForward: !options.reverse,
        Limit: options.limit,
        ...(options.startAfter !== undefined ? { ExclusiveStartKey: { pk, sk: options.startAfter } } : {}),
      }),
    );
    const items = (page.Items ?? []).map((raw) => ({ sk: String(raw.sk), item: toKvItem(raw) }));
    const next = page.LastEvaluatedKey?.sk;
    return typeof next === "string" ? { items, next } : { items };
  }

  async query(pk: string): Promise<{ sk: string; item: KvItem }[]> {
    const out: { sk: string; item: KvItem }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page: QueryCommandOutput = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": pk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const raw of page.Items ?? []) out.push({ sk: String(raw.sk), item: toKvItem(raw) });
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

function toKvItem(raw: Record<string, unknown>): KvItem {
  const item: { value: unknown; version: number; expiresAt?: number } = {
    value: JSON.parse(String(raw.data)),
    version: Number(raw.version),
  };
  if (raw.expiresAtMs !== undefined) item.expiresAt = Number(raw.expiresAtMs);
  return item;
}

import { readFile } from "node:fs/promises";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { parse, type Tags } from "yaml";
import { DynamoDbStateStore } from "../../src/build/dynamodb-state-store.js";
import { parseBuilderAction } from "../../src/config/builder-action.js";
import { type LocalDynamo, startDynalite } from "../helpers/dynalite.js";

// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, not JS templates
const REPO_OBJECTS = "arn:${AWS::Partition}:s3:::${RepoBucket}/${RepoPrefix}/*";
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, not JS templates
const PREFIX_GLOB = "${RepoPrefix}/*";

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** CloudFormation short-form intrinsics as their long form (`!Ref X` → `{ Ref: X }`). */
function cfnTags(): Tags {
  const fns: [string, string][] = [
    ["!Ref", "Ref"],
    ["!Sub", "Fn::Sub"],
    ["!GetAtt", "Fn::GetAtt"],
    ["!Join", "Fn::Join"],
    ["!If", "Fn::If"],
    ["!Equals", "Fn::Equals"],
    ["!Not", "Fn::Not"],
    ["!Select", "Fn::Select"],
    ["!Split", "Fn::Split"],
    ["!FindInMap", "Fn::FindInMap"],
  ];
  return fns.flatMap(([tag, fn]) => [
    {
      tag,
      resolve: (value: string) => ({ [fn]: fn === "Fn::GetAtt" ? value.split(".") : value }),
    },
    {
      tag,
      collection: "seq" as const,
      resolve: (value: unknown) => ({ [fn]: (value as { toJSON(): Json }).toJSON() }),
    },
  ]) as Tags;
}

interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: Json;
  Action: string | string[];
  Resource: Json;
  Condition?: Json;
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

describe("deploy/template.yaml", () => {
  let template: {
    Parameters: Record<string, { Type: string; Default?: string; AllowedPattern?: string }>;
    Resources: Record<string, { Type: string; Properties: Record<string, Json> }>;
    Globals: { Function: { Environment: { Variables: Record<string, Json> } } };
  };
  let dynamo: LocalDynamo;

  beforeAll(async () => {
    const text = await readFile(new URL("../../deploy/template.yaml", import.meta.url), "utf8");
    template = parse(text, { customTags: cfnTags() }) as typeof template;
    dynamo = await startDynalite();
  });
  afterAll(async () => dynamo.close());

  it("declares the state table exactly as the DynamoDB store creates it", async () => {
    const table = template.Resources.StateTable;
    expect(table?.Type).toBe("AWS::DynamoDB::Table");
    const props = table?.Properties as Record<string, Json>;
    expect(props.BillingMode).toBe("PAY_PER_REQUEST");

    // The store's own table, created in dynalite: same keys and attribute types.
    const store = DynamoDbStateStore.fromEnv("arb-template-check", dynamo.env);
    await store.ensureTable();
    const client = dynamo.client();
    const described = (await client.send(new DescribeTableCommand({ TableName: "arb-template-check" })))
      .Table;
    client.destroy();
    const sortByName = <T extends { AttributeName?: string }>(a: T[]) =>
      [...a].sort((x, y) => String(x.AttributeName).localeCompare(String(y.AttributeName)));
    expect(sortByName(props.KeySchema as { AttributeName: string }[])).toEqual(
      sortByName(
        (described?.KeySchema ?? []).map((k) => ({ AttributeName: k.AttributeName, KeyType: k.KeyType })),
      ),
    );
    expect(sortByName(props.AttributeDefinitions as { AttributeName: string }[])).toEqual(
      sortByName(
        (described?.AttributeDefinitions ?? []).map((a) => ({
          AttributeName: a.AttributeName,
          AttributeType: a.AttributeType,
        })),
      ),
    );
    // dynalite does not implement TTL: compare with the attribute the store writes in epoch seconds.
    const source = await readFile(
      new URL("../../src/build/dynamodb-state-store.ts", import.meta.url),
      "utf8",
    );
    const ttl = source.match(/TimeToLiveSpecification:\s*\{\s*AttributeName:\s*"([^"]+)"/)?.[1];
    expect(ttl).toBe("expiresAt");
    expect(props.TimeToLiveSpecification).toEqual({ AttributeName: ttl, Enabled: true });
  });

  it("makes only the repository prefix publicly readable", () => {
    const policy = template.Resources.RepoBucketPolicy?.Properties.PolicyDocument as unknown as {
      Statement: Statement[];
    };
    const publicAllows = policy.Statement.filter(
      (s) => s.Effect === "Allow" && JSON.stringify(s.Principal) === '"*"',
    );
    expect(publicAllows).toHaveLength(1);
    expect(list(publicAllows[0]?.Action ?? [])).toEqual(["s3:GetObject"]);
    expect(publicAllows[0]?.Resource).toEqual({
      "Fn::Sub": REPO_OBJECTS,
    });
    // Every other statement for everyone is a Deny.
    for (const s of policy.Statement) if (s !== publicAllows[0]) expect(s.Effect).toBe("Deny");
    const bucket = template.Resources.RepoBucket?.Properties as Record<string, Record<string, Json>>;
    expect(bucket.PublicAccessBlockConfiguration).toMatchObject({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
    });
    expect(template.Parameters.RepoPrefix?.Default).toBe("repo");
  });

  it("gives the app a least-privilege policy: no wildcard actions or resources", () => {
    const doc = template.Resources.AppPolicy?.Properties.PolicyDocument as unknown as {
      Statement: Statement[];
    };
    const actions = doc.Statement.flatMap((s) => list(s.Action));
    for (const a of actions) expect(a).toMatch(/^(dynamodb|s3|secretsmanager):[A-Za-z]+$/);
    expect(actions.filter((a) => a.startsWith("s3:")).sort()).toEqual([
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
    for (const s of doc.Statement) {
      expect(s.Effect).toBe("Allow");
      for (const r of list(s.Resource as Json[])) {
        expect(r).not.toBe("*");
        const text = JSON.stringify(r);
        // Only references to this stack's table, bucket (prefix) and secret parameters.
        expect(text).toMatch(/StateTable|RepoBucket|SecretArn/);
        if (text.includes("RepoBucket") && s.Sid !== "RepositoryListing") expect(text).toContain(PREFIX_GLOB);
      }
    }
    const listing = doc.Statement.find((s) => s.Sid === "RepositoryListing");
    expect(listing?.Condition).toEqual({ StringLike: { "s3:prefix": [{ "Fn::Sub": PREFIX_GLOB }] } });
    for (const fn of ["WebhookFunction", "TickFunction", "ScheduledFunction"]) {
      expect(template.Resources[fn]?.Properties.Policies).toEqual([{ Ref: "AppPolicy" }]);
    }
  });

  it("takes secrets only as Secrets Manager ARNs, without defaults", () => {
    for (const name of [
      "AppIdSecretArn",
      "PrivateKeySecretArn",
      "WebhookSecretSecretArn",
      "SigningKeySecretArn",
    ]) {
      expect(template.Parameters[name]).toBeDefined();
      expect(template.Parameters[name]?.Default).toBeUndefined();
    }
    // The next signing key of a rotation is optional: an empty default, read only when set (HasNextSigningKey).
    expect(template.Parameters.NextSigningKeySecretArn).toMatchObject({ Default: "" });
    expect(new RegExp(template.Parameters.NextSigningKeySecretArn?.AllowedPattern as string).test("")).toBe(
      true,
    );
    expect(new RegExp(template.Parameters.KeyRotationDate?.AllowedPattern as string).test("2027-01-15")).toBe(
      true,
    );
    expect(new RegExp(template.Parameters.KeyRotationDate?.AllowedPattern as string).test("soon")).toBe(
      false,
    );
    const vars = template.Globals.Function.Environment.Variables;
    // Rotation settings that hold no secret (README "Key rotation").
    const notSecrets = new Set(["KEY_ROTATION_DATE", "KEY_ADMINS"]);
    for (const [k, v] of Object.entries(vars)) {
      if (/KEY|SECRET|APP_ID/.test(k) && !notSecrets.has(k)) {
        expect(k).toMatch(/_SECRET_ARN$/);
        expect(v).toEqual({ Ref: expect.stringMatching(/SecretArn$/) });
      }
    }
    expect(vars.DYNAMODB_TABLE).toEqual({ Ref: "StateTable" });
    expect(vars.DYNAMODB_CREATE_TABLE).toBe("false");
  });

  it("asks for the builder action the proposed workflow runs (BUILDER_ACTION), without a default", () => {
    const parameter = template.Parameters.BuilderAction;
    expect(parameter?.Type).toBe("String");
    expect(parameter?.Default).toBeUndefined();
    expect(template.Globals.Function.Environment.Variables.BUILDER_ACTION).toEqual({ Ref: "BuilderAction" });
    // CloudFormation refuses what does not match; the app validates the rest at cold start.
    const pattern = new RegExp(parameter?.AllowedPattern ?? "");
    for (const ok of [
      "octo-org/arch-repo-bot/action@v1",
      "me/arb@0123456789abcdef0123456789abcdef01234567",
    ]) {
      expect(parseBuilderAction(ok).uses).toBe(ok);
      expect(pattern.test(ok)).toBe(true);
    }
    for (const bad of ["", "octo/arch-repo-bot/action", "octo/a b@v1", `octo/x@\${{ inputs.ref }}`]) {
      expect(pattern.test(bad)).toBe(false);
    }
  });

  it("wires handlers that exist, a Function URL and a daily schedule", async () => {
    const webhook = template.Resources.WebhookFunction?.Properties as Record<string, Json>;
    const tick = template.Resources.TickFunction?.Properties as Record<string, Json>;
    const scheduled = template.Resources.ScheduledFunction?.Properties as Record<string, Json>;
    expect(webhook.FunctionUrlConfig).toEqual({ AuthType: "NONE" });
    for (const props of [webhook, tick, scheduled]) {
      const [file, exported] =
        String(props.Handler)
          .match(/^dist\/(.+)\.(\w+)$/)
          ?.slice(1) ?? [];
      const mod = (await import(`../../${file}.ts`)) as Record<string, unknown>;
      expect(typeof mod[exported as string]).toBe("function");
    }
    const events = scheduled.Events as Record<string, { Type: string; Properties: { Schedule: string } }>;
    const daily = Object.values(events).find((e) => e.Type === "Schedule");
    expect(daily?.Properties.Schedule).toMatch(/^cron\(\d+ \d+ \* \* \? \*\)$/);
  });

  it("runs the recovery tick every few minutes, long enough for a publish, without queuing overlapping ticks", () => {
    const tick = template.Resources.TickFunction?.Properties as Record<string, Json>;
    expect(tick.Handler).toBe("dist/src/lambda/tick.handler");
    const events = Object.values(
      tick.Events as Record<string, { Type: string; Properties: Record<string, Json> }>,
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.Type).toBe("Schedule");
    expect(events[0]?.Properties.Enabled).toBe(true);
    const minutes = Number(/^rate\((\d+) minutes?\)$/.exec(String(events[0]?.Properties.Schedule))?.[1]);
    // Often enough that a job quiet for 10 minutes or a publish whose 2-minute claim expired is taken over soon.
    expect(minutes).toBeGreaterThanOrEqual(1);
    expect(minutes).toBeLessThanOrEqual(10);
    // The publishes it takes over run inside the invocation: the most Lambda allows.
    expect(tick.Timeout).toBe(900);
    // Overlapping invocations are made safe by claims; reserved concurrency would throttle and queue them, and a
    // failed tick is not retried (the next one comes anyway).
    expect(tick.ReservedConcurrentExecutions).toBeUndefined();
    expect(tick.EventInvokeConfig).toEqual({ MaximumRetryAttempts: 0 });
  });
});

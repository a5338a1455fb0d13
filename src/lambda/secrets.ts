/**
 * Secrets for the Lambda functions: the template passes Secrets Manager ARNs (`APP_ID_SECRET_ARN`,
 * `PRIVATE_KEY_SECRET_ARN`, `WEBHOOK_SECRET_SECRET_ARN`, `SIGNING_KEY_SECRET_ARN`), never the values, so they
 * do not show up in the function's configuration. At cold start each `X_SECRET_ARN` is read once and its value
 * becomes `X` in the returned environment (a value already set in `X` wins, for local runs).
 */
export type FetchSecret = (arn: string) => Promise<string>;

export class SecretUnavailableError extends Error {
  override readonly name = "SecretUnavailableError";
}

const SUFFIX = "_SECRET_ARN";

export async function resolveSecretsFromEnv(
  env: NodeJS.ProcessEnv,
  fetchSecret: FetchSecret,
): Promise<NodeJS.ProcessEnv> {
  const out: NodeJS.ProcessEnv = { ...env };
  const pending = Object.entries(env)
    .filter(([name, arn]) => name.endsWith(SUFFIX) && arn?.trim() && !env[name.slice(0, -SUFFIX.length)])
    .map(async ([name, arn]) => {
      const target = name.slice(0, -SUFFIX.length);
      try {
        out[target] = await fetchSecret((arn as string).trim());
      } catch (error) {
        // The message names the variable, not the ARN's value or the secret.
        throw new SecretUnavailableError(`${target}: reading the secret named by ${name} failed`, {
          cause: error,
        });
      }
    });
  await Promise.all(pending);
  return out;
}

/** Secrets Manager `GetSecretValue` (string secrets only). */
export async function secretsManagerFetcher(): Promise<FetchSecret> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
  const client = new SecretsManagerClient({});
  return async (arn) => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    if (out.SecretString === undefined) throw new SecretUnavailableError("secret has no string value");
    return out.SecretString;
  };
}

/**
 * Pushover's message API (`POST https://api.pushover.net/1/messages.json`) as nock answers it, from
 * Pushover's published API documentation (https://pushover.net/api):
 * - `token`, `user` and `message` are required; `title`, `url`, `url_title`, `priority` optional;
 * - a valid request is answered HTTP 200 with `{"status":1,"request":"…"}`;
 * - invalid input is answered HTTP 4xx with a JSON object whose `status` is not 1 and whose `errors` array
 *   says which parameters were invalid (the "Response" section). The texts below are the ones Pushover
 *   sends, as recorded by its users' tests: `{"token":"invalid","errors":["application token is invalid"],
 *   "status":0,…}`, `{"user":"invalid","errors":["user identifier is not a valid user, group, or subscribed
 *   user key"],…}`, `{"message":"cannot be blank","errors":["message cannot be blank"],…}`;
 * - limits ("Limits" section): title 250, message 1024, url 512, url_title 100 characters; priority is one of
 *   -2, -1, 0, 1, 2, and 2 (emergency) needs `retry` and `expire`. Beyond them the request is refused with a
 *   4xx the same way; for these the wording of the error is ours (the documentation gives the limit only).
 */
import nock from "nock";

export interface PushoverAccount {
  /** The application token Pushover knows. */
  readonly token: string;
  /** The user key Pushover knows. */
  readonly user: string;
}

export interface PushoverAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const LIMITS = { title: 250, message: 1024, url: 512, url_title: 100 } as const;

let requestCounter = 0;

/** What Pushover answers to a messages.json request with these form fields. */
export function pushoverAnswer(form: URLSearchParams, account: PushoverAccount): PushoverAnswer {
  const request = `00000000-0000-4000-8000-${String(++requestCounter).padStart(12, "0")}`;
  const refuse = (field: string, value: string, error: string): PushoverAnswer => ({
    status: 400,
    body: { [field]: value, errors: [error], status: 0, request },
  });
  if (form.get("token") !== account.token) return refuse("token", "invalid", "application token is invalid");
  if (form.get("user") !== account.user)
    return refuse("user", "invalid", "user identifier is not a valid user, group, or subscribed user key");
  if (!form.get("message")?.trim()) return refuse("message", "cannot be blank", "message cannot be blank");
  for (const [field, max] of Object.entries(LIMITS)) {
    const value = form.get(field);
    if (value !== null && Array.from(value).length > max)
      return refuse(field, "too long", `${field} is longer than ${max} characters`);
  }
  const priority = form.get("priority");
  if (priority !== null && !["-2", "-1", "0", "1", "2"].includes(priority))
    return refuse("priority", "invalid", "priority is invalid");
  if (priority === "2" && (!form.get("retry") || !form.get("expire")))
    return refuse("retry", "invalid", "retry and expire are required for emergency priority");
  return { status: 200, body: { status: 1, request } };
}

export interface PushoverDouble {
  readonly scope: nock.Scope;
  /** The form of every message request received, in order. */
  readonly messages: URLSearchParams[];
}

/** Intercepts `times` message requests to `baseUrl` and answers each as Pushover would. */
export function nockPushover(baseUrl: string, account: PushoverAccount, times = 1): PushoverDouble {
  const messages: URLSearchParams[] = [];
  const scope = nock(baseUrl)
    .post("/1/messages.json", (body: string | Record<string, string>) => {
      // nock hands a form body over parsed; anything else as its text.
      messages.push(new URLSearchParams(body));
      return true;
    })
    .times(times)
    .reply(() => {
      const { status, body } = pushoverAnswer(messages.at(-1) ?? new URLSearchParams(), account);
      return [status, body, { "content-type": "application/json; charset=utf-8" }];
    });
  return { scope, messages };
}

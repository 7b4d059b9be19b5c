// Dev-only routes behind the demo page (public/): mint a token for any name, start a
// simulated staged job, send yourself a notification. They exist only when DEV_MODE is
// "1" (.dev.vars for `npm run dev`); anywhere else every /dev route answers 404.
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { SignJWT } from "jose";
import * as v from "valibot";
import { HubError } from "../errors";
import { type AppContext, type AppEnv, readJson, userOnly } from "../http";
import { newId } from "../ids";
import { log } from "../log";
import { DEMO_ROOM, devUserId, likeTheLobby, setMyContacts } from "./dev-people";
import { startTypingJob } from "./dev-typing";

/** How the dev routes reach the public API: the app's own fetch, handed in by the app. */
export type AppFetch = (request: Request, env: Env, ctx: AppContext["executionCtx"]) => Response | Promise<Response>;
/** A producer's request through the public API (POST unless `method` says otherwise). */
export type Produce = (path: string, body?: unknown, method?: string) => Promise<Response>;

const devOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.get("config").devMode) throw new HubError("not_found", "no such route");
  await next();
});

export function devRoutes(appFetch: AppFetch): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use("*", devOnly);
  routes.post("/token", mintDevToken);
  routes.post("/jobs", userOnly, (c) => startDemoJob(c, producer(c, appFetch)));
  routes.post("/notify", userOnly, (c) => notifyMe(c, producer(c, appFetch)));
  routes.post("/like", userOnly, (c) => likeTheLobby(c, producer(c, appFetch)));
  routes.put("/contacts", userOnly, (c) => setMyContacts(c, producer(c, appFetch)));
  routes.post("/typing", userOnly, (c) => startTypingJob(c, appFetch));
  return routes;
}

const TOKEN_TTL_S = 3600;

const TokenBody = v.strictObject({ name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(40)) });

async function mintDevToken(c: AppContext): Promise<Response> {
  const { name } = await readJson(c, TokenBody);
  const { jwt } = c.get("config");
  if (!jwt.secret) throw new HubError("misconfigured", "dev tokens need JWT_SECRET");
  // The same name is the same user, so two tabs signed in as "Ada" share one inbox.
  const id = devUserId(name);
  const token = new SignJWT({ name, rooms: [DEMO_ROOM, "demo-*"] }).setProtectedHeader({ alg: "HS256" }).setSubject(id).setIssuedAt();
  if (jwt.audience) token.setAudience(jwt.audience);
  if (jwt.issuer) token.setIssuer(jwt.issuer);
  const expiresAt = Math.floor(Date.now() / 1000) + TOKEN_TTL_S;
  token.setExpirationTime(expiresAt);
  return c.json({ token: await token.sign(new TextEncoder().encode(jwt.secret)), user: { id, name }, expires_at: expiresAt });
}

const JobBody = v.strictObject({
  title: v.optional(v.pipe(v.string(), v.maxLength(100))),
  step_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(50), v.maxValue(5_000))),
});

/** A simulated render: stage names by progress, the way an image pipeline reports them. */
const STAGES = [
  { name: "Queued for a render slot", until: 10 },
  { name: "Generating artwork", until: 60 },
  { name: "Upscaling", until: 90 },
  { name: "Uploading", until: 100 },
];
const STEPS = 10;

async function startDemoJob(c: AppContext, produce: Produce): Promise<Response> {
  const body = await readJson(c, JobBody);
  const owner = c.get("identity").id;
  const id = `demo-${newId()}`;
  const stepMs = body.step_ms ?? 700;
  const title = body.title ?? "Simulated render";
  await produce("/v1/jobs", { id, owner, title });
  // Plain producer updates, as a backend would post them; runs after the response.
  c.executionCtx.waitUntil(drive(produce, id, owner, title, stepMs));
  return c.json({ id, owner, title, step_ms: stepMs, steps: STEPS }, 201);
}

const NotifyBody = v.strictObject({
  title: v.optional(v.pipe(v.string(), v.maxLength(200))),
  body: v.optional(v.pipe(v.string(), v.maxLength(2000))),
});

async function notifyMe(c: AppContext, produce: Produce): Promise<Response> {
  const { title, body } = await readJson(c, NotifyBody);
  const res = await produce(`/v1/users/${c.get("identity").id}/notifications`, {
    kind: "demo",
    title: title ?? "Hello from Dovetail",
    ...(body ? { body } : {}),
  });
  return c.json(await res.json(), res.status as 200);
}

async function drive(produce: Produce, id: string, owner: string, title: string, stepMs: number): Promise<void> {
  try {
    for (let step = 1; step <= STEPS; step++) {
      await new Promise((resolve) => setTimeout(resolve, stepMs));
      const progress = Math.round((step * 100) / STEPS);
      if (progress === 100) break;
      const stage = STAGES.find((s) => progress < s.until)?.name ?? "Finishing";
      const res = await produce(`/v1/jobs/${id}/events`, {
        event_id: `${id}-${step}`,
        status: "running",
        progress,
        stage,
        eta_ms: (STEPS - step) * stepMs,
      });
      if (!res.ok) return; // finished elsewhere (cancelled, failed): stop driving
      const { cancel_requested } = (await res.json()) as { cancel_requested: boolean };
      if (cancel_requested) {
        await produce(`/v1/jobs/${id}/events`, { status: "cancelled", message: "cancelled by the user" });
        return;
      }
    }
    await produce(`/v1/jobs/${id}/events`, {
      status: "completed",
      stage: "Done",
      result: { url: `https://example.com/renders/${id}.png` },
    });
    await produce(`/v1/users/${owner}/notifications`, { kind: "job.completed", title: `${title} is ready`, data: { job: id } });
  } catch (err) {
    log("dev.job_driver_failed", { job: id, error: String(err) });
  }
}

/** A producer's JSON POST through the public API. */
function producer(c: AppContext, appFetch: AppFetch): Produce {
  const call = producerCall(c, appFetch);
  return (path, body, method) => call(path, "application/json", body === undefined ? undefined : JSON.stringify(body), method);
}

/** A producer request through the public API, with the first configured producer key. */
export type Call = (path: string, contentType: string, body?: string, method?: string) => Promise<Response>;

export function producerCall(c: AppContext, appFetch: AppFetch): Call {
  const key = c.get("config").producerKeys[0] ?? "";
  return async (path, contentType, body, method = "POST") => {
    const headers = { Authorization: `Bearer ${key}`, "Content-Type": contentType };
    const init = { method, headers, ...(body === undefined ? {} : { body }) };
    return appFetch(new Request(new URL(path, c.req.url), init), c.env, c.executionCtx);
  };
}

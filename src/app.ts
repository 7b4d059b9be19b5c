import { Hono } from "hono";
import { cors } from "hono/cors";
import { isOriginAllowed } from "./auth/origin";
import { readConfig } from "./config";
import { asHubError, errorBody, HubError } from "./errors";
import type { AppEnv } from "./http";
import { log } from "./log";
import { batchRoutes } from "./routes/batches";
import { broadcastRoutes } from "./routes/broadcast";
import { devRoutes } from "./routes/dev";
import { jobRoutes } from "./routes/jobs";
import { presenceRoutes } from "./routes/presence";
import { publishRoutes } from "./routes/publish";
import { roomRoutes } from "./routes/rooms";
import { sessionRoutes } from "./routes/sessions";
import { socketRoutes } from "./routes/sockets";
import { metricsRoutes, statsRoutes } from "./routes/stats";
import { streamCors, streamRoutes } from "./routes/streams";
import { ticketRoutes } from "./routes/tickets";
import { userRoutes } from "./routes/users";
import { webhookRoutes } from "./routes/webhooks";

export const app = new Hono<AppEnv>();

// A deployed hub with missing or dev-only secrets refuses to serve rather than run open.
app.use("*", async (c, next) => {
  const config = readConfig(c.env);
  if (config.problems.length > 0) throw new HubError("misconfigured", `hub is misconfigured: ${config.problems.join("; ")}`);
  c.set("config", config);
  await next();
});

// Browsers call some routes (tickets, GET /jobs/:id) directly; sockets must skip cors,
// which edits headers and would throw on a 101.
const browserCors = cors({
  origin: (origin, c) => (isOriginAllowed(origin, c.get("config").allowedOrigins) ? origin : null),
  allowHeaders: ["Authorization", "Content-Type"],
  allowMethods: ["GET", "POST", "PUT"],
  maxAge: 600,
});
app.use("/v1/*", async (c, next) => {
  if (c.req.path.startsWith("/v1/ws/")) return next();
  return c.req.path.startsWith("/v1/stream/") ? streamCors(c, next) : browserCors(c, next);
});

// With [assets], "/" is the demo page; this answers only where no assets are deployed.
app.get("/", (c) => c.json({ service: "dovetail", protocol: "dovetail.v1" }));
app.route("/v1", jobRoutes);
app.route("/v1", batchRoutes);
app.route("/v1", ticketRoutes);
app.route("/v1", userRoutes);
app.route("/v1", roomRoutes);
app.route("/v1", sessionRoutes);
app.route("/v1", publishRoutes);
app.route("/v1", presenceRoutes);
app.route("/v1", broadcastRoutes);
app.route("/v1", socketRoutes);
app.route("/v1", statsRoutes);
app.route("/v1", streamRoutes);
app.route("/v1", webhookRoutes);
// The dev routes drive the demo through the public API, so they get this app to call.
app.route(
  "/dev",
  devRoutes((request, env, ctx) => app.fetch(request, env, ctx)),
);
app.route("/", metricsRoutes);

app.notFound((c) => c.json(errorBody(new HubError("not_found", "no such route")), 404));

app.onError((err, c) => {
  if (err instanceof HubError) {
    if (err.code === "unauthorized") c.header("WWW-Authenticate", 'Bearer error="invalid_token"');
    if (err.retryAfterS !== undefined) c.header("Retry-After", String(err.retryAfterS));
    if (err.code !== "not_found") log("http.refused", { method: c.req.method, path: c.req.path, code: err.code, message: err.message });
    return c.json(errorBody(err), err.status as 400);
  }
  log("http.error", { method: c.req.method, path: c.req.path, error: String(err) });
  return c.json(errorBody(asHubError(err)), 500);
});

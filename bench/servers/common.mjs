// Shared by the bench servers: announce readiness on stdout, stop cleanly on SIGTERM or
// when the orchestrator goes away (stdin closes), and never outlive it.

export function serve(start) {
  let stop = async () => {};
  let stopping = false;
  const shutdown = async (why) => {
    if (stopping) return;
    stopping = true;
    const hard = setTimeout(() => process.exit(1), 5000);
    hard.unref();
    try {
      await stop();
    } catch (err) {
      console.error(`stop failed (${why}):`, err);
    }
    process.exit(0);
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.stdin.on("end", () => shutdown("stdin closed"));
  process.stdin.on("error", () => shutdown("stdin error"));
  process.stdin.resume();
  start()
    .then((running) => {
      stop = running.stop;
      process.stdout.write(`BENCH_READY ${JSON.stringify({ url: running.url, ...(running.info ?? {}) })}\n`);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}

/** Reads a request body as a Buffer (bench traffic only: small bodies). */
export function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

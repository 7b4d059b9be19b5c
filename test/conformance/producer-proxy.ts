// The conformance suite sends no credentials; Dovetail answers 401 to anonymous requests.
// This local proxy adds the producer key to every request (producers may do everything)
// and streams bodies both ways untouched, so long-poll, SSE and chunked uploads behave as
// they would against the hub itself. A reader that goes away aborts its upstream request.
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProducerProxy {
  url: string;
  close: () => Promise<void>;
}

export async function startProducerProxy(target: URL, producerKey: string): Promise<ProducerProxy> {
  const server = createServer((req, res) => {
    const headers: IncomingHttpHeaders = { ...req.headers, host: target.host, authorization: `Bearer ${producerKey}` };
    const upstream = httpRequest({ hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

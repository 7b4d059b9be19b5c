// The scale scenario's table and targets: the sharded room against the same
// room unsharded, the jobs, the broadcast, the reconnect of every socket, the stats shards.

const f = (v, digits = 0) => (v === undefined || v === null || Number.isNaN(v) ? "–" : Number(v).toFixed(digits));

function lossCell(part) {
  const final = part?.final ?? part;
  if (!final) return "–";
  return `${f(final.loss)} / ${f(final.duplicates)} / ${f(final.gaps)} of ${f(final.expected)}`;
}

/** `runs = { sharded, flat }`: one raw result each (either may be missing). */
export function scaleMarkdown({ sharded, flat }) {
  const lines = [
    "Scale scenario (one run each):",
    "",
    "| part | sockets | deliveries | p50 ms | p99 ms | server µs/delivery | loss / dup / gap (after every socket reconnected) | notes |",
    "|---|---:|---:|---:|---:|---:|---|---|",
  ];
  if (flat) {
    const r = flat.room;
    lines.push(
      `| room, unsharded | ${f(r.sockets)} | ${f(r.deliveries)} | ${f(r.latency?.p50, 1)} | ${f(r.latency?.p99, 1)} | ${f(r.serverUsPerDelivery, 2)} | ${f(r.loss)} / ${f(r.duplicates)} / ${f(r.gaps)} of ${f(r.expected)} (no reconnect) | shards ${f(r.stats?.shards)}; connect ${f(flat.serverUsPerConnect)} µs/socket |`,
    );
  }
  if (sharded) {
    const { room, jobs, broadcast } = sharded;
    lines.push(
      `| room, sharded | ${f(room.sockets)} | ${f(room.deliveries)} | ${f(room.latency?.p50, 1)} | ${f(room.latency?.p99, 1)} | ${f(room.serverUsPerDelivery, 2)} | ${lossCell(room)} | shards ${f(room.stats?.shards)} (${f(room.statsAfterReconnect?.shards)} after the reconnect) |`,
      `| jobs (${f(jobs.channels)} channels) | ${f(jobs.sockets)} | ${f(jobs.deliveries)} | ${f(jobs.latency?.p50, 1)} | ${f(jobs.latency?.p99, 1)} | | ${lossCell(jobs)} | ${f(jobs.serverUsPerPublish)} µs/publish |`,
      `| broadcast | ${f(broadcast.users)} | ${f(broadcast.deliveries)} | ${f(broadcast.latency?.p50, 1)} | ${f(broadcast.latency?.p99, 1)} | | ${lossCell(broadcast)} | users reached ${broadcast.answers.map((a) => f(a.users_reached)).join(", ")}; ${f(broadcast.serverUsPerUserReached)} µs/user |`,
    );
    lines.push(
      "",
      `Connect ${f(sharded.connectMs / 1000, 1)} s (${f(sharded.serverUsPerConnect)} µs of server CPU per socket), ${f(sharded.idleServerCpuPerS, 1)} ms of server CPU a second with every socket open and nothing published, connect failures ${f(sharded.connectFailures)}, reconnect failures ${f(sharded.reconnectFailures)} (${f(sharded.serverUsPerReconnect)} µs of server CPU per socket), sockets closed by the server ${JSON.stringify(sharded.serverCloses ?? {})}, publish errors ${f(sharded.publishErrors)} ${JSON.stringify(sharded.publishFailures ?? {})} (not expected by any socket); stats shard reports ${sharded.statsShards.reports.join(" ")}.`,
    );
  }
  return lines.join("\n");
}

export function scaleTargets({ sharded, flat }) {
  const out = [];
  const ratio = (name, a, b, limit) =>
    a == null || b == null
      ? { target: name, met: null, detail: "not measured" }
      : { target: name, met: a / b <= limit, detail: `${a.toFixed(2)} vs ${b.toFixed(2)} (${(a / b).toFixed(2)}x)` };
  out.push(ratio("Sharded room CPU/delivery <= 1.3x unsharded", sharded?.room.serverUsPerDelivery, flat?.room.serverUsPerDelivery, 1.3));
  out.push(ratio("Sharded room p99 <= 1.5x unsharded", sharded?.room.latency?.p99, flat?.room.latency?.p99, 1.5));
  const b = sharded?.broadcast;
  out.push({
    target: "Broadcast reaches every user socket with p99 < 1 s",
    met: b ? b.final.loss === 0 && b.latency.p99 < 1000 && b.answers.every((a) => a.users_reached === b.users) : null,
    detail: b ? `p99 ${f(b.latency.p99, 1)} ms, reached ${b.answers.map((a) => a.users_reached).join("/")} of ${b.users}` : "not measured",
  });
  const parts = sharded ? [sharded.room.final, sharded.jobs.final, sharded.broadcast.final] : [];
  out.push({
    target: "Zero loss, duplicates and gaps through a reconnect of every socket",
    met: sharded ? parts.every((p) => p.loss === 0 && p.duplicates === 0 && p.gaps === 0) && sharded.reconnectFailures === 0 : null,
    detail: sharded ? parts.map((p) => `${p.loss}/${p.duplicates}/${p.gaps}`).join(", ") : "not measured",
  });
  const spread = sharded?.statsShards.busiestOverMean;
  out.push({
    target: "Stats shards loaded within 2x of even",
    met: spread == null ? null : spread <= 2,
    detail: spread == null ? "not measured" : `busiest shard ${spread.toFixed(2)}x the mean`,
  });
  return out;
}

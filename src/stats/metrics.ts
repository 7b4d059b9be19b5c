// GET /metrics: the summed stats in the Prometheus text exposition format (version 0.0.4).
import { COUNTER_NAMES, type CounterName } from "../hub/counters";
import { CHANNEL_KINDS } from "../protocol";
import type { HubStats } from "./totals";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const COUNTER_HELP: Record<CounterName, string> = {
  published: "Events published (logged or product events), by every channel.",
  delivered: "Frames of published events sent to sockets.",
  errors: "Error frames answered to client frames.",
  connects: "Sockets accepted.",
  closes: "Sockets closed.",
  refusals: "Socket upgrades refused by a hub (forbidden, too many connections, ...).",
};

/** Label values are channel names (ids of [A-Za-z0-9_.:-]) or kinds, but escape anyway. */
function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

export function renderMetrics(stats: HubStats): string {
  const out: string[] = [];
  const family = (name: string, type: "gauge" | "counter", help: string, samples: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
  };
  family(
    "dovetail_open_sockets",
    "gauge",
    "Open sockets by channel kind (reported by the hubs, a few seconds behind).",
    CHANNEL_KINDS.map((kind) => [`{kind="${kind}"}`, stats.open_sockets[kind]]),
  );
  family("dovetail_active_channels", "gauge", "Channels watched now or written to within the last minute.", [["", stats.active_channels]]);
  for (const name of COUNTER_NAMES) {
    family(`dovetail_${name}_total`, "counter", COUNTER_HELP[name], [["", stats.since_start[name]]]);
  }
  family(
    "dovetail_channel_open_sockets",
    "gauge",
    "Open sockets of the busiest channels.",
    stats.top_channels.map((c) => [`{channel="${label(c.channel)}"}`, c.open_sockets]),
  );
  family(
    "dovetail_channel_delivered_last_minute",
    "gauge",
    "Deliveries over the last minute of the busiest channels.",
    stats.top_channels.map((c) => [`{channel="${label(c.channel)}"}`, c.delivered]),
  );
  family(
    "dovetail_stats_shard_reports_total",
    "counter",
    "Reports each stats shard has taken: even numbers mean no hot shard.",
    stats.stats_shards.reports.map((n, i) => [`{shard="${i}"}`, n]),
  );
  return `${out.join("\n")}\n`;
}

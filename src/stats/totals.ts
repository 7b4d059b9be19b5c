// Where a channel's stats go, and the sum across every stats shard for GET /v1/stats.
import { unwrap } from "../errors";
import { COUNTER_NAMES, type CounterValues, zeroCounters } from "../hub/counters";
import { CHANNEL_KINDS, type ChannelKind } from "../protocol";
import { shardIndex } from "../shards";
import { type ShardStats, type StatsShard, TOP_CHANNELS, type TopChannel } from "./stats-shard";

export interface HubStats {
  since: string;
  open_sockets: Record<ChannelKind | "total", number>;
  active_channels: number;
  last_minute: CounterValues;
  since_start: CounterValues;
  top_channels: TopChannel[];
  /** Reports each stats shard has taken since it started, by shard index: the spread. */
  stats_shards: { count: number; reports: number[] };
}

export function statsShardName(index: number): string {
  return `stats-${index}`;
}

/** The stats shard that holds `channel`'s counts: every object of a channel reports to the same one. */
export function statsShardFor(env: Env, channel: string, count: number): DurableObjectStub<StatsShard> {
  return env.STATS_SHARD.getByName(statsShardName(shardIndex(channel, count)));
}

/** Reads every shard at once and adds them up. */
export async function readTotals(env: Env, count: number, now = Date.now()): Promise<HubStats> {
  const shards = await Promise.all(
    Array.from({ length: count }, async (_, i) => unwrap(await env.STATS_SHARD.getByName(statsShardName(i)).read(now))),
  );
  return sumShards(shards, now);
}

export function sumShards(shards: ShardStats[], now: number): HubStats {
  const open = { ...(Object.fromEntries(CHANNEL_KINDS.map((k) => [k, 0])) as Record<ChannelKind, number>), total: 0 };
  const lastMinute = zeroCounters();
  const sinceStart = zeroCounters();
  let active = 0;
  let started: number | null = null;
  const top: TopChannel[] = [];
  for (const shard of shards) {
    for (const kind of CHANNEL_KINDS) {
      open[kind] += shard.open_sockets[kind];
      open.total += shard.open_sockets[kind];
    }
    for (const name of COUNTER_NAMES) {
      lastMinute[name] += shard.last_minute[name];
      sinceStart[name] += shard.since_start[name];
    }
    active += shard.active_channels;
    if (shard.started !== null && (started === null || shard.started < started)) started = shard.started;
    top.push(...shard.top);
  }
  top.sort((a, b) => b.open_sockets - a.open_sockets || b.delivered - a.delivered || a.channel.localeCompare(b.channel));
  return {
    since: new Date(started ?? now).toISOString(),
    open_sockets: open,
    active_channels: active,
    last_minute: lastMinute,
    since_start: sinceStart,
    top_channels: top.slice(0, TOP_CHANNELS),
    stats_shards: { count: shards.length, reports: shards.map((s) => s.reports) },
  };
}

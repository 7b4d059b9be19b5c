// Spreading names over shard objects: stats shards, the user directory, a room's socket shards.

/** FNV-1a: cheap, stable across isolates and deploys, and spreads similar names well. */
export function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The shard a name belongs to, among `count` (0-based). */
export function shardIndex(name: string, count: number): number {
  return hashName(name) % count;
}

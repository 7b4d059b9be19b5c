import { app } from "./app";

export { DirectoryShard } from "./broadcast/directory-shard";
export { BatchHub } from "./hubs/batch-hub";
export { JobHub } from "./hubs/job-hub";
export { RoomHub } from "./hubs/room-hub";
export { StreamHub } from "./hubs/stream-hub";
export { UserHub } from "./hubs/user-hub";
export { RoomShard } from "./rooms/room-shard";
export { StatsShard } from "./stats/stats-shard";
export { DeadLetters } from "./webhooks/dead-letters";

export default app;

import { app } from "./app";

export { BatchHub } from "./hubs/batch-hub";
export { JobHub } from "./hubs/job-hub";
export { RoomHub } from "./hubs/room-hub";
export { StatsHub } from "./hubs/stats-hub";
export { StreamHub } from "./hubs/stream-hub";
export { UserHub } from "./hubs/user-hub";
export { DeadLetters } from "./webhooks/dead-letters";

export default app;

import { app } from "./app";

export { JobHub } from "./hubs/job-hub";
export { UserHub } from "./hubs/user-hub";
export { RoomHub } from "./hubs/room-hub";

export default app;

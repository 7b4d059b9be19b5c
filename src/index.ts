import { app } from "./app";

export { JobHub } from "./hubs/job-hub";
export { RoomHub } from "./hubs/room-hub";
export { UserHub } from "./hubs/user-hub";

export default app;

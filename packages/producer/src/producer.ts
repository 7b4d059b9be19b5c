import type { DeadLetter } from "../../../src/protocol/index.js";
import { Streams } from "./streams.js";
import { DEFAULT_RETRY, type RetryOptions, sendJson, type TransportOptions } from "./transport.js";
import type {
  BulkJobAnswer,
  BulkJobUpdate,
  Delivered,
  EventOptions,
  JobError,
  JobReport,
  JobSpec,
  JobState,
  JobUpdate,
  Json,
  Notification,
  NotificationInput,
  PublishAnswer,
  PublishItem,
  RoomPresence,
  RoomSettings,
  RoomState,
  UserPresence,
} from "./types.js";

export interface ProducerOptions {
  /** The hub's base URL, e.g. https://hub.example.com. */
  url: string;
  /** A producer key (one of the hub's PRODUCER_KEYS). */
  key: string;
  retry?: Partial<RetryOptions>;
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
  /** Another fetch (a Worker's service binding, a proxy, a test double). */
  fetch?: typeof fetch;
  /** How to wait between attempts; replaced in tests so they need not sleep. */
  sleep?: (ms: number) => Promise<void>;
}

const path = (...parts: string[]) => `/v1/${parts.map(encodeURIComponent).join("/")}`;
const newId = () => crypto.randomUUID();

/**
 * The hub from a backend's side. Every helper is safe to retry: ids and event_ids are
 * generated once per call, before the first attempt.
 */
export class Producer {
  readonly jobs: Jobs;
  readonly users: Users;
  readonly rooms: Rooms;
  readonly streams: Streams;
  readonly webhooks: Webhooks;
  private readonly transport: TransportOptions;

  constructor(options: ProducerOptions) {
    if (!options.url || !options.key) throw new TypeError("Producer needs { url, key }");
    this.transport = {
      url: options.url,
      key: options.key,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      timeoutMs: options.timeoutMs ?? 10_000,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: Math.random,
    };
    this.jobs = new Jobs(this.transport);
    this.users = new Users(this.transport);
    this.rooms = new Rooms(this.transport);
    this.streams = new Streams(this.transport);
    this.webhooks = new Webhooks(this.transport);
  }

  /** A notification to every device of `userId`, kept in the user's inbox until read. */
  notify(userId: string, notification: NotificationInput): Promise<Delivered & { notification: Notification }> {
    return sendJson(this.transport, {
      method: "POST",
      path: path("users", userId, "notifications"),
      json: { ...notification, id: notification.id ?? newId() },
    });
  }

  /** Up to 100 events for user and room channels, one result per item (a bad item fails alone). */
  publish(items: PublishItem[]): Promise<PublishAnswer> {
    const stamped = items.map((item) =>
      // A notification item dedupes by data.id; any other item by event_id.
      item.type === "notification"
        ? { ...item, data: { id: newId(), ...(item.data as object) } }
        : { ...item, event_id: item.event_id ?? newId() },
    );
    return sendJson(this.transport, { method: "POST", path: "/v1/publish", json: stamped });
  }
}

class Jobs {
  constructor(private readonly transport: TransportOptions) {}

  /** Creates a job (201), or answers the same job again for the same body (a retry). */
  create(spec: JobSpec): Promise<JobState> {
    return sendJson(this.transport, { method: "POST", path: "/v1/jobs", json: { ...spec, id: spec.id ?? newId() } });
  }

  /** Reports progress; the answer's `cancel_requested` says whether the owner pressed cancel. */
  update(id: string, update: JobUpdate): Promise<JobReport> {
    return sendJson(this.transport, {
      method: "POST",
      path: path("jobs", id, "events"),
      json: { ...update, event_id: update.event_id ?? newId() },
    });
  }

  complete(id: string, result?: Json, options: EventOptions = {}): Promise<JobReport> {
    return this.update(id, { ...options, status: "completed", ...(result !== undefined ? { result } : {}) });
  }

  fail(id: string, error: JobError, options: EventOptions = {}): Promise<JobReport> {
    return this.update(id, { ...options, status: "failed", error });
  }

  /** Ends a job the owner asked to cancel (or one the backend stops itself). */
  cancelled(id: string, message?: string, options: EventOptions = {}): Promise<JobReport> {
    return this.update(id, { ...options, status: "cancelled", ...(message !== undefined ? { message } : {}) });
  }

  /** Up to 100 updates for any jobs in one request, one result per item. */
  bulk(items: BulkJobUpdate[]): Promise<BulkJobAnswer> {
    return sendJson(this.transport, {
      method: "POST",
      path: "/v1/jobs/events",
      json: items.map((item) => ({ ...item, event_id: item.event_id ?? newId() })),
    });
  }

  get(id: string): Promise<JobState> {
    return sendJson(this.transport, { method: "GET", path: path("jobs", id) });
  }
}

class Users {
  constructor(private readonly transport: TransportOptions) {}

  /** A product event (`campaign:launched`, ...) to every socket of the user. */
  publish(userId: string, type: string, data?: Json, options: EventOptions = {}): Promise<Delivered> {
    return sendJson(this.transport, {
      method: "POST",
      path: path("users", userId, "events"),
      json: { type, data, event_id: options.event_id ?? newId() },
    });
  }

  presence(userId: string): Promise<UserPresence> {
    return sendJson(this.transport, { method: "GET", path: path("users", userId, "presence") });
  }
}

class Rooms {
  constructor(private readonly transport: TransportOptions) {}

  /** Sets who may join, and optionally where the room's webhooks go. Replaces earlier settings. */
  configure(roomId: string, settings: RoomSettings): Promise<RoomState> {
    return sendJson(this.transport, { method: "PUT", path: path("rooms", roomId), json: settings });
  }

  /** A product event to the room; `exclude_user`'s sockets get no live copy. */
  publish(roomId: string, type: string, data?: Json, options: EventOptions & { exclude_user?: string } = {}): Promise<Delivered> {
    return sendJson(this.transport, {
      method: "POST",
      path: path("rooms", roomId, "events"),
      json: { type, data, ...options, event_id: options.event_id ?? newId() },
    });
  }

  presence(roomId: string): Promise<RoomPresence> {
    return sendJson(this.transport, { method: "GET", path: path("rooms", roomId, "presence") });
  }
}

class Webhooks {
  constructor(private readonly transport: TransportOptions) {}

  /** Webhooks the hub gave up on, oldest first; pass the answer's `next` as `after` for the next page. */
  failed(
    options: { channel?: string; after?: string; limit?: number } = {},
  ): Promise<{ failed: DeadLetter[]; total: number; next?: string }> {
    const query = new URLSearchParams(Object.entries(options).map(([k, v]) => [k, String(v)]));
    return sendJson(this.transport, { method: "GET", path: `/v1/webhooks/failed?${query}` });
  }

  /** Queues a dead letter again, with a fresh retry window. */
  replay(id: string): Promise<{ id: string; channel: string; requeued: true }> {
    return sendJson(this.transport, { method: "POST", path: path("webhooks", "failed", id, "replay"), json: {} });
  }
}

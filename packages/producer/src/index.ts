// @dovetail/producer: the hub from a backend's side. No dependencies: fetch and WebCrypto
// (Node 20+, Workers, Bun, Deno).

export type { ClientEventData, DeadLetter, WebhookData, WebhookEventType, WebhookPayload } from "../../../src/protocol/index.js";
export { WebhookEvent } from "../../../src/protocol/index.js";
export {
  generateSecret,
  type HeaderSource,
  signWebhook,
  type VerifyOptions,
  verifyWebhook,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from "../../../src/webhooks/signature.js";
export { Producer, type ProducerOptions } from "./producer.js";
export type { CreateStreamOptions, StreamChunk, StreamInfo, Streams } from "./streams.js";
export { DEFAULT_RETRY, ProducerError, type RetryOptions, type TransportErrorCode } from "./transport.js";
export type * from "./types.js";

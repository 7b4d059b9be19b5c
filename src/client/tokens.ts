import { DovetailError } from "./codes";

/** One token for every channel of a client; one fetch however many channels hit a 4001. */
export class TokenCache {
  private value: string | undefined;
  private inflight: Promise<string> | undefined;

  constructor(private readonly source: string | (() => string | Promise<string>)) {
    if (typeof source === "string") this.value = source;
  }

  get refreshable(): boolean {
    return typeof this.source === "function";
  }

  get(): Promise<string> {
    return this.value !== undefined ? Promise.resolve(this.value) : this.fetch();
  }

  /** A new token, unless another channel already replaced the rejected one. */
  refresh(rejected: string | undefined): Promise<string> {
    if (this.value !== undefined && this.value !== rejected) return Promise.resolve(this.value);
    this.value = undefined;
    return this.fetch();
  }

  private fetch(): Promise<string> {
    const source = this.source;
    if (typeof source === "string") return Promise.resolve(source);
    this.inflight ??= Promise.resolve()
      .then(source)
      .then(
        (token) => {
          this.inflight = undefined;
          if (typeof token !== "string" || token === "") throw new DovetailError("unauthorized", "the token function returned no token");
          this.value = token;
          return token;
        },
        (err) => {
          this.inflight = undefined;
          throw err;
        },
      );
    return this.inflight;
  }
}

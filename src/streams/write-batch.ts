// Group commit for appends. Each append reads its body on its own, then its synchronous
// half (checks and writes) waits for the object's next batch: every append whose body is in
// by then is checked and written, in arrival order, in one turn, so they share one SQLite
// transaction and one commit instead of paying one each. Under load, appends pile up while
// the object works and batches grow by themselves; an idle stream's append waits one turn.
// Each answer still leaves only once its batch is durable (the output gate).

export class WriteBatch {
  private pending: (() => void)[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** Runs `write` in the next batch; resolves with what it returns (or rejects with what it throws). */
  add<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push(() => {
        try {
          resolve(write());
        } catch (err) {
          reject(err);
        }
      });
      this.timer ??= setTimeout(() => this.flush(), 0);
    });
  }

  private flush(): void {
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    for (const write of batch) write();
  }
}

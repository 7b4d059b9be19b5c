/**
 * One run of a task at a time. A call made while a run is in flight does not start a second
 * run that would race it: it shares the running promise and asks for one more pass, so the
 * work it came for is still seen.
 */
export class SingleFlight {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly task: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.task();
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}

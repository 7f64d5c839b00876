/**
 * Teardown of a local stack: steps run last-in first-out, exactly once (also
 * on Ctrl-C), each bounded, so one stuck step never keeps the others from running.
 */
export class Cleanup {
  private readonly steps: { name: string; run: () => Promise<unknown> | unknown }[] = [];
  private done: Promise<void> | null = null;
  add(name: string, run: () => Promise<unknown> | unknown): void {
    this.steps.push({ name, run });
  }
  run(log: (line: string) => void = () => {}): Promise<void> {
    this.done ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await Promise.race([
            Promise.resolve(step.run()),
            new Promise((_, fail) => setTimeout(() => fail(new Error("timed out after 10 s")), 10_000)),
          ]);
        } catch (e) {
          log(`cleanup: ${step.name} failed: ${(e as Error).message}`);
        }
      }
    })();
    return this.done;
  }
}

// The extractor's running request sequences, per resource: starts them, waits until none is left (each may start
// more, for the children of its records), and holds a parent page back while a child resource has too many waiting
// (MAX_PENDING_CHILDREN), which bounds memory on a big fan-out. It is apart from extract.ts because it knows nothing
// of requests or pages, only of tasks and their resource; a task's failure goes to the extractor's handler.
import type { ResourcePlan } from './plan.js';

/** Child requests allowed to wait for a slot per resource before a parent page waits (bounds memory). */
const MAX_PENDING_CHILDREN = 512;

export class ResourceTasks {
  private readonly pending = new Map<string, Set<Promise<void>>>();
  private readonly drained = new Map<string, Array<() => void>>();

  constructor(private readonly onError: (error: unknown, resourceName: string) => void) {}

  /** Waits until no task is left (tasks spawn children, so loop until the sets stay empty). */
  async settle(): Promise<void> {
    for (;;) {
      const all = [...this.pending.values()].flatMap((set) => [...set]);
      if (all.length === 0) return;
      await Promise.allSettled(all);
    }
  }

  spawn(plan: ResourcePlan, task: () => Promise<void>): void {
    const set = this.pending.get(plan.name) ?? new Set();
    this.pending.set(plan.name, set);
    const promise: Promise<void> = task()
      .catch((error: unknown) => this.onError(error, plan.name))
      .finally(() => {
        set.delete(promise);
        if (set.size < MAX_PENDING_CHILDREN) for (const wake of this.drained.get(plan.name)?.splice(0) ?? []) wake();
      });
    set.add(promise);
  }

  /** Waits while `plan` has too many sequences pending, until one ends or `signal` aborts. */
  async roomFor(plan: ResourcePlan, signal: AbortSignal): Promise<void> {
    while ((this.pending.get(plan.name)?.size ?? 0) >= MAX_PENDING_CHILDREN && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const list = this.drained.get(plan.name) ?? [];
        list.push(resolve);
        this.drained.set(plan.name, list);
      });
    }
  }
}

/**
 * Coalesces change notices (lib/events) into comms messages: each topic at most once per FLUSH_MS, with the latest
 * status of every id that changed (at most MAX_ITEMS of them; `total` counts them all).
 */
import type { SoarEventMap, SoarEventName } from '../../lib/events';

/** At most one message per topic this often. */
const FLUSH_MS = 500;
/** The ids one message lists; the editor re-reads its list anyway when there are more. */
const MAX_ITEMS = 50;

export const TOPICS: Record<SoarEventName, string> = {
  case: 'soar/cases',
  approval: 'soar/approvals',
  device: 'soar/devices',
};

type Publish = (topic: string, data: unknown) => void;

/** Collects the notices of a moment and publishes them per topic, newest status per id. */
export class CoalescingPublisher {
  private readonly pending = new Map<SoarEventName, Map<string, unknown>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: Publish,
    private readonly flushMs = FLUSH_MS,
  ) {}

  add<K extends SoarEventName>(name: K, event: SoarEventMap[K]): void {
    let byId = this.pending.get(name);
    if (!byId) this.pending.set(name, (byId = new Map()));
    byId.delete(event.id); // re-inserted last: the newest change comes first in the message
    byId.set(event.id, event);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const pending = [...this.pending];
    this.pending.clear();
    for (const [name, byId] of pending) {
      const items = [...byId.values()].reverse().slice(0, MAX_ITEMS);
      this.publish(TOPICS[name], { total: byId.size, items });
    }
  }

  /** Drops what is pending: the runtime is stopping. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

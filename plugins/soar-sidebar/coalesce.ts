/**
 * Coalesces change notices (lib/events) into comms messages: each topic at most once per FLUSH_MS, and the message is
 * a bare "something changed" signal. It names no id and no status: RED.comms sends it to every editor connection
 * (any user with status.read, with or without soar.read), so it must tell nothing; the sidebar re-reads what it shows
 * through the admin API, which checks the user's soar.read permission.
 */
import type { SoarEventName } from '../../lib/events';

/** At most one message per topic this often. */
const FLUSH_MS = 500;

export const TOPICS: Record<SoarEventName, string> = {
  case: 'soar/cases',
  approval: 'soar/approvals',
  device: 'soar/devices',
};

/** The whole content of a comms message. */
export const CHANGED = { changed: true } as const;

type Publish = (topic: string, data: typeof CHANGED) => void;

/** Collects the notices of a moment and publishes one signal per topic that changed. */
export class CoalescingPublisher {
  private readonly pending = new Set<SoarEventName>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: Publish,
    private readonly flushMs = FLUSH_MS,
  ) {}

  add(name: SoarEventName): void {
    this.pending.add(name);
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
    for (const name of pending) this.publish(TOPICS[name], CHANGED);
  }

  /** Drops what is pending: the plugin is unloaded. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

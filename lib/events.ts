/**
 * Change notices of this process, for whoever shows live state (the editor's SOAR sidebar). They carry ids and
 * statuses only, never case content: a listener that wants more asks the store or the admin API, which checks the
 * user's permission. Emitted after the change is committed, so a listener that reads the store sees it.
 */
import { EventEmitter } from 'node:events';
import type { CaseStatus } from './cases/model';
import type { ApprovalStatus } from './response/response-store';

export interface SoarEventMap {
  /** A case was opened or changed (grouping, an operation, an analyst's patch, a run or approval note). */
  case: { id: string; status: CaseStatus; updated: string };
  /** An approval was asked for, or decided (by an analyst, or its timeout). */
  approval: { id: string; status: ApprovalStatus; caseId?: string };
  /** A device's health status changed (or was checked for the first time). */
  device: { id: string; status: string };
}

export type SoarEventName = keyof SoarEventMap;
export type SoarEventListener<K extends SoarEventName> = (event: SoarEventMap[K]) => void;

export class SoarEvents {
  // Listeners are few (the sidebar plugin holds one per event and removes it when loaded again), so Node's default
  // limit of 10 stays: its warning points at a real leak.
  private readonly emitter = new EventEmitter();

  /** Tells the listeners; one that throws is not allowed to break the change that emitted. */
  emit<K extends SoarEventName>(name: K, event: SoarEventMap[K]): void {
    if (this.emitter.listenerCount(name) === 0) return;
    for (const listener of this.emitter.listeners(name) as SoarEventListener<K>[]) {
      try {
        listener(event);
      } catch {
        // a listener's bug is its own
      }
    }
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends SoarEventName>(name: K, listener: SoarEventListener<K>): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }

  listenerCount(name: SoarEventName): number {
    return this.emitter.listenerCount(name);
  }
}

/** The change notices of this Node-RED process. */
export const soarEvents = new SoarEvents();

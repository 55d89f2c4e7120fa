export * from './model';
export * from './run-store';
export {
  RunTracker,
  RUN_PROPERTY,
  DEFAULT_MAX_OPEN_RUNS,
  errorText,
  type PlaybookTab,
  type TrackedNode,
  type Message,
  type StoppedScope,
  type TrackingCounts,
} from './tracker';
export { RunRecorder } from './recorder';
export { SqlitePlaybookRunStore } from './sqlite-run-store';
export { playbookTabs, completeWatched, type FlowConfigNode } from './tabs';
export { parseRunQuery, RunQueryError } from './query';
export { PgPlaybookRunStore } from './pg-run-store';
export { acquireRunStore, releaseRunStore } from './acquire';
export type { RunStoreOptions } from './sqlite-run-store';
export type { RunKeepingOptions } from './run-rows';

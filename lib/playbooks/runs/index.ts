export * from './model';
export * from './run-store';
export { RunTracker, RUN_PROPERTY, type PlaybookTab, type TrackedNode, type Message } from './tracker';
export { RunRecorder } from './recorder';
export { SqlitePlaybookRunStore } from './sqlite-run-store';
export { playbookTabs, type FlowConfigNode } from './tabs';
export { parseRunQuery, RunQueryError } from './query';

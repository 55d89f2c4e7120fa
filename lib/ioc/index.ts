/** The IOC library engine: indicators from feeds, matched against alert observables. No Node-RED imports. */
export * from './model';
export {
  IocIndex,
  MAX_REPORTED_ERRORS,
  normalisePercentEncoding,
  type IocIndexOptions,
  type ReplaceFeedOptions,
} from './ioc-index';
export {
  allowlistFeedName,
  allowlistIndicators,
  DEFAULT_ALLOWLIST_NAMES,
  DEFAULT_ALLOWLISTS,
  type AllowlistSwitches,
  type DefaultAllowlist,
  type DefaultAllowlistName,
} from './allowlists';
export { CidrTable, ipv6ToBigInt, parseIpv4 } from './ranges';
export { IocFeedStore, GROUP_SIZE, type SavedFeedInfo } from './ioc-store';
export {
  acquireIocLibrary,
  IocLibrary,
  openIocLibrary,
  releaseIocLibrary,
  type IocLibraryOptions,
  type SaveFeedOptions,
} from './library';
export { IocStoreError } from './pg-library';

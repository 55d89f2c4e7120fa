export { feedSelected, newHits, type HitOptions, type HuntHit, type IocLookup } from './hits';
export { describeHit, raiseCase, MAX_HIT_ENTRIES, type RaiseOptions } from './raise';
export { retroHunt, type HuntOptions, type HuntResult, type RaisedCase } from './retro-hunt';
export { triggerFeeds, type TriggerFeeds } from './feeds';

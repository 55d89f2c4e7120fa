export * from './score';
export * from './assets';

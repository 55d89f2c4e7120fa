export * from './model';
export * from './cache';
export * from './limiter';
export * from './client';

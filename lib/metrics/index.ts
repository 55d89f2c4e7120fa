export * from './model';
export * from './intake-counters';
export { prometheusText, PROMETHEUS_CONTENT_TYPE } from './prometheus';
export { SqliteMetricsSources } from './sqlite-sources';
export { PgMetricsSources, type PgMetricsSourcesOptions } from './pg-sources';
export { openMetricsSources } from './open';

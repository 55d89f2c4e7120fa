/** Feed parsers: STIX 2.1 bundles, MISP events and feeds, plain lists, FireHOL sets and CSV. No Node-RED imports. */
export * from './report';
export * from './stix';
export * from './misp';
export * from './lists';
export * from './detect';

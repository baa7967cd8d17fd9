export * from './requirements/index.js';
export * from './targets/mqtt/index.js';
export * from './targets/ssh/index.js';
export * from './testing/tiers.js';

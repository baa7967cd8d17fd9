export * from './testing/tiers.js';

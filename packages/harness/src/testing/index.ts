export { requirement, verifies } from '../requirements/index.js';
export * from './tiers.js';

export { requirement, verifies } from '../requirements/index.js';
export { type BastionRunState, runState } from './run-state.js';
export * from './tiers.js';

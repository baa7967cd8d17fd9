import type { Requirement } from './types.js';

export const reconnectRequirements: Requirement[] = [];

import type { Requirement } from './types.js';

export const gatewayRequirements: Requirement[] = [];

import type { Requirement } from './types.js';

export const mqttRequirements: Requirement[] = [];

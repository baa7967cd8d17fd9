/** Tasks for both protocol eras (table.ts says what they share, legacy.ts and modern.ts how each era speaks). */
export { LegacyTaskTransport, RELATED_TASK_KEY, type TaskToolsOptions } from './legacy.js';
export { type ModernTaskOptions, ModernTasks, TASKS_EXTENSION } from './modern.js';
export { isTerminal, type TaskOutcome, type TaskRecord, type TaskStatus, TaskTable } from './table.js';

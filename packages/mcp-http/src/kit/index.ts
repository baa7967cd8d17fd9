/** The server kit both Bastion servers share: tool results, runTool, backoff, the bin skeleton. */
export { Backoff, type BackoffOptions } from './backoff.js';
export {
  createBinLogger,
  describeConfigIssues,
  flagOf,
  installProcessHandlers,
  logListening,
  type ProcessHandlers,
  SECRET_FIELDS,
} from './bin.js';
export { type RunToolOptions, runTool } from './run-tool.js';
export {
  ERROR_META_KEY,
  errorDataOf,
  invalidInput,
  jsonResult,
  success,
  ToolError,
  type ToolErrorData,
  toolError,
} from './tool-result.js';

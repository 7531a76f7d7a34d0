export { checkLinearizable, DEFAULT_MAX_STATES, DEFAULT_TIMEOUT_MS } from './check.js';
export { describeOperation, explain, formatHistory } from './format.js';
export type { ExplainOptions, FormatHistoryOptions } from './format.js';
export { kvModel, registerModel } from './models.js';
export type { KvInput, KvOutput, KvState, RegisterInput, RegisterOutput, RegisterState, RegisterValue } from './models.js';
export { partitionBy, partitionIndicesBy, partitionsToIndices } from './partition.js';
export { isUnknown } from './types.js';
export type {
  CheckOptions,
  CheckOutcome,
  CheckResult,
  ClientId,
  History,
  LinearizedStep,
  Model,
  Operation,
  OperationRef,
  PartialLinearization,
  PartitionResult,
  StepResult,
} from './types.js';

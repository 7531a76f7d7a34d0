export type { DecodeResult } from './message-codec.js';
export { decodeMessage, encodeMessage, validateMessage } from './message-codec.js';
export type { Decoded } from './storage-codec.js';
export {
  decodeEntry,
  decodeHardState,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeSnapshot,
} from './storage-codec.js';

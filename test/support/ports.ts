// One allocator for every test: below the ephemeral range (see deploy/local/ports.ts).
export { freePort } from '../../deploy/local/ports.js';

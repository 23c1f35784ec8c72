// Seeded random weights and inputs live in src/weights/random.ts (the profile command times with them
// too); benchmarks, scripts and tests keep importing them from here.
export { randomInput, randomWeights, rng } from '../../src/weights/random.js';

/**
 * npm run bench:precision — the precision section of npm run bench alone: ResNet-50 int8 (and
 * bf16) in-process throughput as ratios to fp32, and the default models' test accuracy at fp32 and
 * int8 (bench/lib/precision.ts). Usage: npm run bench:precision [-- --quick]
 */
import { parseArgs } from 'node:util';
import { fashionPrecision, resnetPrecision } from './lib/precision.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const log = (line: string) => console.log(line);
log('== precision: in-process ONNX Runtime, 2 threads ==');
const resnet = await resnetPrecision(log, values.quick);
const fashion = await fashionPrecision(log);
console.log(`\n${JSON.stringify({ resnet, fashion })}`);

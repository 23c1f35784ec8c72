/** A private temporary folder for one profile's ONNX Runtime trace (apart, so making one loads no engine). */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const makeTraceDir = () => mkdtemp(path.join(tmpdir(), 'convnet-serve-profile-'));

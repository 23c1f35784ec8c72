// The terminal drawing of a Grad-CAM map: one character pair per cell, from blank (0) to '@' (1).
import t from 'tap';
import { mapAsText } from '../../src/cli/explain-text.js';

t.test('rows of cells, blank below 0.1, + at 0.5, @ from 0.9, each cell twice', async (t) => {
  const text = mapAsText({ height: 2, width: 3, data: [0, 0.5, 1, 1, 0.05, 0.95] }, '');
  t.equal(text, '|  ++@@|\n|@@  @@|\n');
});

/**
 * The Grad-CAM map drawn over the uploaded image, as a PNG data URL for the page. The map covers
 * what the model saw: the whole image when the model stretches it, the centre window when it crops
 * (resizeGeometry says where); elsewhere the image shows as it is. Drawn at the image's upright
 * size, shrunk to fit OVERLAY_MAX_SIDE so a photo's overlay stays a few hundred kilobytes.
 */
import sharp from 'sharp';
import type { Preprocess } from './model-config.js';
import { resizeGeometry, uprightSize } from './preprocess.js';

export const OVERLAY_MAX_SIDE = 512;
/** How much of the heat colour each pixel takes where the map is 1 (none where it is 0). */
const BLEND = 0.6;

export interface CamMap {
  height: number;
  width: number;
  data: ArrayLike<number>;
}

/** A blue → cyan → yellow → red ramp ("jet"), so low and high values differ in hue, not only in light. */
function heatColour(v: number): [number, number, number] {
  const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1))];
}

/** The map resized (bilinear) to w×h, as 8-bit values. */
async function resizedMap(map: CamMap, width: number, height: number): Promise<Uint8Array> {
  const grey = Uint8Array.from({ length: map.height * map.width }, (_, i) => Math.round(255 * map.data[i]));
  const { data } = await sharp(grey, { raw: { width: map.width, height: map.height, channels: 1 } })
    .resize({ width, height, fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data;
}

/** The overlay of `map` on the image in `bytes` (already probed and decoded once, so known to be sound). */
export async function overlayDataUrl(
  bytes: Uint8Array,
  map: CamMap,
  preprocess: Pick<Preprocess, 'size' | 'resize' | 'cropFraction'>,
  maxPixels: number,
): Promise<string> {
  const options = { limitInputPixels: maxPixels, failOn: 'error' as const };
  const [srcWidth, srcHeight] = uprightSize(await sharp(bytes, options).metadata());
  const scale = Math.min(1, OVERLAY_MAX_SIDE / Math.max(srcWidth, srcHeight));
  const width = Math.max(1, Math.round(srcWidth * scale));
  const height = Math.max(1, Math.round(srcHeight * scale));
  const image = await sharp(bytes, options)
    .rotate()
    .flatten({ background: '#ffffff' })
    .resize({ width, height, fit: 'fill' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rgb = image.data;
  const channels = image.info.channels;
  // The window the model saw, in overlay pixels (source pixels per resized pixel: src / resized).
  const g = resizeGeometry([srcWidth, srcHeight], preprocess);
  const [h, w] = preprocess.size;
  const fx = (srcWidth / g.width) * scale;
  const fy = (srcHeight / g.height) * scale;
  const x0 = Math.round(g.left * fx);
  const y0 = Math.round(g.top * fy);
  const ww = Math.max(1, Math.min(width - x0, Math.round(w * fx)));
  const wh = Math.max(1, Math.min(height - y0, Math.round(h * fy)));
  const heat = await resizedMap(map, ww, wh);
  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const inside = x >= x0 && x < x0 + ww && y >= y0 && y < y0 + wh;
      const v = inside ? heat[(y - y0) * ww + (x - x0)] / 255 : 0;
      const colour = heatColour(v);
      const a = BLEND * v;
      for (let c = 0; c < 3; c++) {
        const base = rgb[i * channels + Math.min(c, channels - 1)];
        out[i * 3 + c] = Math.round((1 - a) * base + a * colour[c]);
      }
    }
  }
  const png = await sharp(out, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

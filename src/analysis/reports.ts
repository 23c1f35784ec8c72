/**
 * Cost reports computed from the layer rows: residual-block and inception-module rollups, the
 * 1x1-bottleneck savings, and the most expensive layers.
 */
import { kindsWhere } from '../spec/kinds/index.js';
import type { Graph, TensorShape } from '../spec/types.js';
import type {
  BottleneckRow,
  InceptionRow,
  LayerRow,
  ResidualRow,
  Rollup,
  TopLayerRow,
  Totals,
} from './report-types.js';
import { lookup } from '../invariant.js';
import { exact } from '../spec/exact.js';

const share = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

function rollup(names: string[], byName: Map<string, LayerRow>): Rollup {
  let params = 0;
  let macs = 0;
  let elementOps = 0;
  for (const n of names) {
    const r = lookup(byName, n, 'layer row');
    params += r.params;
    macs += r.macs;
    elementOps += r.elementOps;
  }
  return { params, macs, elementOps };
}

function blockInputShape(names: string[], byName: Map<string, LayerRow>): TensorShape {
  const inside = new Set(names);
  for (const n of names) {
    const r = lookup(byName, n, 'layer row');
    const idx = r.inputs.findIndex((i) => !inside.has(i));
    if (idx >= 0) return r.inputShapes[idx];
  }
  return lookup(byName, names[0], 'layer row').inputShapes[0];
}

export function residualReport(graph: Graph, byName: Map<string, LayerRow>, totals: Totals): ResidualRow[] {
  return graph.blocks.flatMap((b) => {
    if (b.type !== 'residual') return [];
    const total = rollup(b.nodes, byName);
    const sc = rollup(b.shortcutNodes, byName);
    return [
      {
        name: b.name,
        blockPath: b.blockPath,
        shortcut: b.shortcut,
        preactivation: b.preactivation,
        inputShape: blockInputShape(b.nodes, byName),
        outputShape: lookup(byName, b.nodes[b.nodes.length - 1], 'layer row').outputShape,
        ...total,
        shortcutParams: sc.params,
        shortcutMacs: sc.macs,
        macShare: share(total.macs, totals.macs),
      },
    ];
  });
}

export function inceptionReport(graph: Graph, byName: Map<string, LayerRow>, totals: Totals): InceptionRow[] {
  return graph.blocks.flatMap((b) => {
    if (b.type !== 'branches' || b.merge !== 'concat') return [];
    const total = rollup(b.nodes, byName);
    const concat = lookup(byName, b.concatNode, 'layer row');
    return [
      {
        name: b.name,
        blockPath: b.blockPath,
        inputShape: blockInputShape(b.nodes, byName),
        outputShape: concat.outputShape,
        ...total,
        macShare: share(total.macs, totals.macs),
        branches: b.branches.map((br, i) => {
          const r = rollup(br.nodes, byName);
          const out = concat.inputShapes[i];
          return {
            name: br.name,
            ...r,
            outputChannels: out[out.length - 1],
            macShare: share(r.macs, total.macs),
            paramShare: share(r.params, total.params),
            layers: br.nodes,
          };
        }),
      },
    ];
  });
}

/** Layers a reduction's output may pass through on its way to the k×k conv without changing channels. */
const TRANSPARENT = kindsWhere('channelwise');

/**
 * Every k×k conv (k > 1, groups 1) fed, through batch norm / activation / zero padding only (ResNet v2
 * pads explicitly before its 3x3), by a 1x1 conv (groups 1)
 * that reduces channels. "Without" applies the k×k conv straight to the reduction's input, keeping the
 * k×k conv's output size; "with" is the reduction plus the k×k conv as built.
 */
export function bottleneckReport(graph: Graph, byName: Map<string, LayerRow>): BottleneckRow[] {
  const nodes = new Map(graph.nodes.map((n) => [n.name, n]));
  const rows: BottleneckRow[] = [];
  for (const node of graph.nodes) {
    if (node.kind !== 'conv2d' || node.attrs.groups !== 1) continue;
    const [kh, kw] = node.attrs.kernel;
    if (kh * kw <= 1) continue;
    let source = nodes.get(node.inputs[0]);
    while (source && TRANSPARENT.has(source.kind)) source = nodes.get(source.inputs[0]);
    if (source?.kind !== 'conv2d') continue;
    const red = source.attrs;
    if (red.kernel[0] !== 1 || red.kernel[1] !== 1 || red.groups !== 1) continue;
    const reduction = lookup(byName, source.name, 'layer row');
    const conv = lookup(byName, node.name, 'layer row');
    const cin = reduction.inputShapes[0][2];
    if (red.filters >= cin) continue;
    const out = conv.outputShape;
    const at = `bottlenecks (${node.name})`;
    const macsWithout = exact(out[0] * out[1] * out[2] * cin * kh * kw, at, 'MACs without the reduction');
    const macsWith = reduction.macs + conv.macs;
    rows.push({
      conv: node.name,
      kernel: [kh, kw],
      reduction: source.name,
      inputShape: reduction.inputShapes[0],
      reducedChannels: red.filters,
      outputShape: out,
      macsWithout,
      reductionMacs: reduction.macs,
      convMacs: conv.macs,
      macsWith,
      ratio: macsWith / macsWithout,
      paramsWithout: exact(
        kh * kw * cin * node.attrs.filters + (node.attrs.bias ? node.attrs.filters : 0),
        at,
        'parameters without the reduction',
      ),
      paramsWith: reduction.trainableParams + conv.trainableParams,
    });
  }
  return rows;
}

export function topLayers(rows: LayerRow[], totals: Totals, count: number): TopLayerRow[] {
  return rows
    .filter((r) => r.macs > 0)
    .sort((a, b) => b.macs - a.macs || a.index - b.index)
    .slice(0, count)
    .map((r) => ({
      name: r.name,
      kind: r.kind,
      outputShape: r.outputShape,
      macs: r.macs,
      params: r.params,
      macShare: share(r.macs, totals.macs),
    }));
}

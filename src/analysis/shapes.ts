/**
 * The shape pass: walks the graph once, applying each kind's rule, and is the semantic validator
 * (every shape error names the layer's spec path). The analyzer, the graph builders and the weight
 * loaders all take their shapes and weight lists from here.
 */
import type { Graph, GraphNode, TensorShape } from '../spec/types.js';
import { INPUT_NAME } from '../spec/types.js';
import { RULES, type LayerRule, type WeightSpec } from './rules.js';

export interface ShapedNode {
  node: GraphNode;
  inputShapes: TensorShape[];
  outputShape: TensorShape;
  weights: WeightSpec[];
}

export interface ShapedGraph {
  graph: Graph;
  nodes: ShapedNode[];
  shapes: Map<string, TensorShape>;
}

export function ruleFor(node: GraphNode): LayerRule<GraphNode['kind']> {
  return RULES[node.kind] as LayerRule<GraphNode['kind']>;
}

export const where = (node: GraphNode) => `${node.specPath} (${node.name})`;

export function inferShapes(graph: Graph): ShapedGraph {
  const shapes = new Map<string, TensorShape>([[INPUT_NAME, graph.input]]);
  const nodes = graph.nodes.map((node) => {
    const inputShapes = node.inputs.map((name) => {
      const s = shapes.get(name);
      // normalizeSpec emits producers before readers; a miss here is a bug, not bad input.
      if (!s) throw new Error(`internal: ${node.name} reads ${name} before it is produced`);
      return s;
    });
    const rule = ruleFor(node);
    const outputShape = rule.outputShape(inputShapes, node.attrs as never, where(node));
    shapes.set(node.name, outputShape);
    return { node, inputShapes, outputShape, weights: rule.weights(inputShapes, node.attrs as never) };
  });
  return { graph, nodes, shapes };
}

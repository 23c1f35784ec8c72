/**
 * The shape pass: walks the graph once, applying each kind's rule, and is the semantic validator
 * (every shape error names the layer's spec path). The analyzer, the engines and the weight binder
 * all take their shapes and weight lists from here.
 */
import type { TensorShape } from './basics.js';
import { INPUT_NAME } from './basics.js';
import type { Graph, GraphNode } from './graph.js';
import { ruleOf, type LeafKind } from './kinds/index.js';
import type { LayerRule, WeightSpec } from './kinds/kind.js';
import { elements } from './kinds/shared.js';
import { exact } from './exact.js';

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

/** The rule of a node's kind, typed for its attributes. */
export function ruleFor(node: GraphNode): LayerRule<GraphNode['attrs']> {
  return ruleOf(node.kind as LeafKind) as LayerRule<GraphNode['attrs']>;
}

export const where = (node: GraphNode) => `${node.specPath} (${node.name})`;

/** One node's output shape and weights from its input shapes (throws SpecError when they do not fit). */
export function shapeNode(
  node: GraphNode,
  inputShapes: TensorShape[],
): { outputShape: TensorShape; weights: WeightSpec[] } {
  const rule = ruleFor(node);
  const at = where(node);
  const outputShape = rule.outputShape(inputShapes, node.attrs, at);
  const weights = rule.weights(inputShapes, node.attrs);
  const axes = outputShape.length === 3 ? ['output height', 'output width', 'output channels'] : [];
  for (const [i, d] of outputShape.entries()) exact(d, at, axes[i] ?? `output dimension ${i}`);
  exact(elements(outputShape), at, 'output elements');
  for (const w of weights) exact(elements(w.shape), at, `${w.name} elements`);
  // A layer an imported model froze keeps its weights, but none of them train.
  return {
    outputShape,
    weights: node.trainable === false ? weights.map((w) => ({ ...w, trainable: false })) : weights,
  };
}

export function inferShapes(graph: Graph): ShapedGraph {
  const shapes = new Map<string, TensorShape>([[INPUT_NAME, graph.input]]);
  const nodes = graph.nodes.map((node) => {
    const inputShapes = node.inputs.map((name) => {
      const s = shapes.get(name);
      // normalizeSpec emits producers before readers; a miss here is a bug, not bad input.
      if (!s) throw new Error(`internal: ${node.name} reads ${name} before it is produced`);
      return s;
    });
    const { outputShape, weights } = shapeNode(node, inputShapes);
    shapes.set(node.name, outputShape);
    return { node, inputShapes, outputShape, weights };
  });
  return { graph, nodes, shapes };
}

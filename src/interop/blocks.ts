/**
 * Best-effort block detection for imported graphs, so the residual and inception reports work on
 * models that were not written in our spec format. Keras configs carry no block structure, only
 * wiring, so blocks are read off the wiring with two simple rules:
 *
 * - Residual block: an `add`. Walking back from its inputs (latest layer first) until every path has
 *   met at one layer gives the block's input (the *fork*); the layers passed on the way are the
 *   block. The add input whose path has fewer layers is the shortcut (the first input on a tie, as
 *   Keras writes `Add([shortcut, x])`): `projection` if it holds a conv or dense layer, `pooling` if
 *   it holds other layers, `identity` if it is the fork itself. An activation that is the add's only
 *   reader is the block's post-activation (v1). The block is pre-activated (v2) when the body starts
 *   with batch norm → activation on the fork, or when the fork is itself activation ← batch norm
 *   read only there, over a tensor that no conv or dense layer produced (the previous block's output);
 *   that pair is then part of the block. It is named after the add, less a `_add` or `_out` suffix.
 * - Inception module: a `concat` whose inputs all have at least one layer of their own between the
 *   fork and the concat. Each input's path is a branch (`<module>_branch<i>`); the module is named
 *   after the concat, as our spec names it.
 *
 * Nested blocks (a module inside a residual body, mixed9_0 inside mixed9) come out nested: a layer's
 * blockPath lists the blocks that contain it, largest first. Detection never throws and gives up on
 * a merge whose fork is more than MAX_SPAN layers back; at worst a model has fewer blocks reported.
 */
import { kindsWhere } from '../spec/kinds/index.js';
import {
  INPUT_NAME,
  type BlockInfo,
  type BranchesBlockInfo,
  type GraphNode,
  type ResidualBlockInfo,
} from '../spec/types.js';
import { defined } from '../invariant.js';

export interface DetectedBlocks {
  blocks: BlockInfo[];
  /** Enclosing blocks (and branches) of every layer that is inside one, outermost first. */
  blockPaths: Map<string, string[]>;
}

/** Layers scanned back from one merge before giving up on it. */
const MAX_SPAN = 4096;
/** Layers scanned over the whole graph, so detection stays linear-ish on hostile input. */
const MAX_WORK = 4_000_000;

/** Kinds whose weights mix channels: a shortcut holding one is a projection. */
const PARAMETRIC = kindsWhere('mixesChannels');

export function detectBlocks(nodes: readonly GraphNode[]): DetectedBlocks {
  try {
    return findBlocks(nodes);
  } catch {
    // Detection only feeds the block reports; a bug here must not cost the user the whole analysis.
    return { blocks: [], blockPaths: new Map() };
  }
}

/** detectBlocks without the safety net, so tests can tell a bug from an empty answer. */
export function findBlocks(nodes: readonly GraphNode[]): DetectedBlocks {
  return new Detector(nodes).run();
}

class Detector {
  private readonly index = new Map<string, number>();
  private readonly consumers = new Map<string, string[]>();
  private readonly names = new Set<string>([INPUT_NAME]);
  private work = 0;

  constructor(private readonly nodes: readonly GraphNode[]) {
    nodes.forEach((n, i) => {
      this.index.set(n.name, i);
      this.names.add(n.name);
      for (const src of n.inputs) {
        const list = this.consumers.get(src) ?? [];
        list.push(n.name);
        this.consumers.set(src, list);
      }
    });
  }

  /** Position in execution order; the network input comes before everything (-1). */
  private at(name: string): number {
    return this.index.get(name) ?? -1;
  }

  /**
   * Walks back from a merge's inputs, always expanding the latest layer, until one layer is left
   * on the frontier: that layer (or the input, -1) is the fork; the expanded layers are the region.
   */
  private converge(merge: GraphNode): { fork: number; region: Set<number> } | null {
    const marked = new Set<number>();
    let pending = 0;
    let hi = -1;
    for (const name of merge.inputs) {
      const i = this.at(name);
      if (!marked.has(i)) {
        marked.add(i);
        pending++;
        hi = Math.max(hi, i);
      }
    }
    const region = new Set<number>();
    for (let i = hi; i >= -1; i--) {
      if (++this.work > MAX_WORK || hi - i > MAX_SPAN) return null;
      if (!marked.has(i)) continue;
      if (pending === 1) return { fork: i, region };
      if (i < 0) return null;
      region.add(i);
      pending--;
      for (const src of this.nodes[i].inputs) {
        const j = this.at(src);
        if (!marked.has(j)) {
          marked.add(j);
          pending++;
        }
      }
    }
    return null;
  }

  /** The region's layers on the path(s) from the fork to one merge input. */
  private branch(start: number, region: Set<number>): number[] {
    if (!region.has(start)) return [];
    const seen = new Set([start]);
    const stack = [start];
    while (stack.length) {
      const i = defined(stack.pop(), 'a stacked node');
      for (const src of this.nodes[i].inputs) {
        const j = this.at(src);
        if (region.has(j) && !seen.has(j)) {
          seen.add(j);
          stack.push(j);
        }
      }
    }
    return [...seen].sort((a, b) => a - b);
  }

  private blockName(merge: GraphNode, taken: Set<string>): string {
    const stripped = merge.name.replace(/_(add|out)$/, '');
    if (stripped !== merge.name && stripped !== '' && !this.names.has(stripped) && !taken.has(stripped))
      return stripped;
    return merge.name;
  }

  private residual(merge: GraphNode, mergeAt: number, taken: Set<string>): ResidualBlockInfo | null {
    const found = this.converge(merge);
    if (!found) return null;
    const { fork, region } = found;
    const branches = merge.inputs.map((name) => this.branch(this.at(name), region));
    if (branches.every((b) => b.length === 0)) return null;
    let sc = 0;
    branches.forEach((b, k) => {
      if (b.length < branches[sc].length) sc = k;
    });
    const shortcut = branches[sc];
    const scSet = new Set(shortcut);
    const body = [...region].filter((i) => !scSet.has(i)).sort((a, b) => a - b);
    const members = new Set([...region, mergeAt]);

    let preactivation = false;
    const forkName = fork < 0 ? INPUT_NAME : this.nodes[fork].name;
    const first = body.length ? this.nodes[body[0]] : undefined;
    if (
      first &&
      first.kind === 'batchnorm' &&
      first.inputs[0] === forkName &&
      (this.consumers.get(first.name) ?? []).some(
        (c) => this.nodes[this.at(c)]?.kind === 'activation' && region.has(this.at(c)),
      )
    ) {
      preactivation = true;
    } else if (fork >= 0 && this.nodes[fork].kind === 'activation') {
      const act = this.nodes[fork];
      const bnAt = this.at(act.inputs[0]);
      const bn = bnAt >= 0 ? this.nodes[bnAt] : undefined;
      const source = bn ? this.at(bn.inputs[0]) : -1;
      const readersInside = (this.consumers.get(act.name) ?? []).every((c) => members.has(this.at(c)));
      if (
        bn &&
        bn.kind === 'batchnorm' &&
        (this.consumers.get(bn.name) ?? []).length === 1 &&
        readersInside &&
        (source < 0 || !PARAMETRIC.has(this.nodes[source].kind))
      ) {
        preactivation = true;
        members.add(bnAt);
        members.add(fork);
      }
    }

    const readers = this.consumers.get(merge.name) ?? [];
    if (readers.length === 1) {
      const post = this.at(readers[0]);
      if (post >= 0 && this.nodes[post].kind === 'activation') members.add(post);
    }

    const kinds = new Set(shortcut.map((i) => this.nodes[i].kind));
    const name = this.blockName(merge, taken);
    return {
      type: 'residual',
      name,
      blockPath: [],
      nodes: [...members].sort((a, b) => a - b).map((i) => this.nodes[i].name),
      shortcut: [...kinds].some((k) => PARAMETRIC.has(k))
        ? 'projection'
        : shortcut.length
          ? 'pooling'
          : 'identity',
      shortcutNodes: shortcut.map((i) => this.nodes[i].name),
      addNode: merge.name,
      preactivation,
    };
  }

  private module(merge: GraphNode, mergeAt: number): BranchesBlockInfo | null {
    const found = this.converge(merge);
    if (!found) return null;
    const { region } = found;
    const paths = merge.inputs.map((name) => this.branch(this.at(name), region));
    if (paths.some((b) => b.length === 0)) return null;
    const assigned = new Set<number>();
    const branches = paths.map((path, k) => {
      const own = path.filter((i) => !assigned.has(i));
      for (const i of own) assigned.add(i);
      return { name: `${merge.name}_branch${k + 1}`, nodes: own.map((i) => this.nodes[i].name) };
    });
    return {
      type: 'branches',
      name: merge.name,
      blockPath: [],
      nodes: [...region, mergeAt].sort((a, b) => a - b).map((i) => this.nodes[i].name),
      branches,
      concatNode: merge.name,
      merge: 'concat',
    };
  }

  run(): DetectedBlocks {
    const blocks: BlockInfo[] = [];
    const taken = new Set<string>();
    this.nodes.forEach((node, i) => {
      if (node.inputs.length < 2) return;
      const block =
        node.kind === 'add'
          ? this.residual(node, i, taken)
          : node.kind === 'concat'
            ? this.module(node, i)
            : null;
      if (block && !taken.has(block.name)) {
        taken.add(block.name);
        blocks.push(block);
      }
    });

    // Larger blocks enclose smaller ones; a stable sort keeps equal sizes in execution order.
    const outerFirst = [...blocks].sort((a, b) => b.nodes.length - a.nodes.length);
    const blockPaths = new Map<string, string[]>();
    for (const block of outerFirst) {
      const branchOf = new Map<string, string>();
      if (block.type === 'branches')
        for (const br of block.branches) for (const n of br.nodes) branchOf.set(n, br.name);
      for (const n of block.nodes) {
        const path = blockPaths.get(n) ?? [];
        path.push(block.name);
        const br = branchOf.get(n);
        if (br) path.push(br);
        blockPaths.set(n, path);
      }
    }
    for (const block of blocks) {
      const path = blockPaths.get(block.type === 'residual' ? block.addNode : block.concatNode) ?? [];
      const own = path.lastIndexOf(block.name);
      block.blockPath = own >= 0 ? path.slice(0, own) : [];
    }
    return { blocks, blockPaths };
  }
}

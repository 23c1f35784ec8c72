/**
 * The counting conventions, written once and returned with every report (and quoted in the README and
 * docs/analysis.md). ASCII only, `*` for a product: one character past ASCII in a report made Node
 * encode its whole JSON on the slow UTF-8 path (ResNet-152's 300 KB: 0.5 ms against 0.03 ms).
 */
export const CONVENTIONS = {
  mac: 'A MAC is one multiply-accumulate (one multiply plus one add). FLOPs are reported as 2*MACs.',
  conv2d:
    'conv2d MACs = Hout*Wout*Cout*(Cin/groups)*kh*kw per image (depthwise: groups = Cin); the bias is not a MAC.',
  dense: 'dense MACs = in*out per image; the bias is not a MAC.',
  zeroMacLayers:
    'Bias, batch norm, activations, pooling, add, multiply, concat, zero padding, flatten, reshape, rescaling, normalization ' +
    'and dropout count 0 MACs. Their work is reported apart as elementOps: one per output element for bias, batch norm, ' +
    'activation, rescaling and normalization; one per output element and extra input for add and multiply (one more for a scaled add); ' +
    'one per window element for pooling, one per input element for global pooling, 0 for pure data movement.',
  params:
    'Parameters are the elements of every weight tensor. Batch-norm moving mean and variance are non-trainable parameters ' +
    '(the Keras and tfjs convention); gamma and beta are trainable. torchvision calls the moving statistics buffers, so its ' +
    '"parameters" equal our trainable parameters. A layer an imported Keras or tfjs model marks "trainable": false (itself or ' +
    "through an enclosing model) keeps its weights, all counted as non-trainable, as Keras' model.summary() prints them.",
  memory:
    'Activations are float32 (4 bytes). outputBytes is per image. Peak activation memory walks the layers in execution order, ' +
    'keeps each tensor alive until its last reader has run, counts the input and output of the running layer, and multiplies by ' +
    'the batch size; weights, gradients and backend workspace are excluded and no in-place reuse is assumed.',
  training:
    'With "training": bytes of weights (every parameter), gradients (trainable parameters), optimizer state (float32 per trainable ' +
    'parameter: sgd none, momentum one buffer, adam two moments plus one step counter per trainable tensor, as PyTorch keeps them) ' +
    'and of the activations kept for the backward pass, all float32 and for the batch. What each kind keeps follows PyTorch autograd ' +
    'on the CPU: conv and dense their input; batch norm its input and a mean and inverse std per channel; relu, sigmoid, tanh and ' +
    'softmax their output, other activations their input; max pooling its input and int64 indices; average and global pooling ' +
    'their input; multiply its inputs; dropout a float32 mask; add, concat, padding, flatten, reshape, rescaling and normalization ' +
    'nothing. A tensor kept by several layers counts once; layers whose output needs no gradient keep nothing. MACs per step: the ' +
    'forward MACs, the input-gradient MACs (equal to the forward MACs of each conv and dense whose input needs a gradient) and the ' +
    'weight-gradient MACs (equal to the forward MACs of each conv and dense with trainable weights), all for the batch. Transient ' +
    'tensors of the backward pass and backend workspace are not included.',
  receptiveField:
    'Receptive field and its stride (jump) per spatial axis, from the network input: rf += (k_eff - 1)*jump, jump *= stride; ' +
    'padding does not change them; where branches meet, the largest is reported.',
} as const;

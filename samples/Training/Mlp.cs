using System;
using System.Numerics.Tensors;

namespace OptGen.Samples.Training;

/// <summary>What the network's output is trained against.</summary>
public enum LossKind
{
    /// <summary>Softmax over the outputs, cross-entropy against a class label.</summary>
    SoftmaxCrossEntropy,

    /// <summary>Half the squared error against real targets.</summary>
    HalfSquaredError,
}

/// <summary>
/// A small multilayer perceptron with tanh hidden layers and a linear output, forward and backward written by hand.
/// All weights and biases live in one flat <c>float[]</c>, so a single OptGen step updates the whole model in one
/// fused pass. Layer l holds W (out × in, row-major) followed by b (out).
/// </summary>
public sealed partial class Mlp
{
    private readonly int[] _sizes;
    private readonly int[] _offsets;
    private readonly float[][] _activations;
    private readonly float[][] _deltas;

    /// <summary>Creates the network with layer widths <paramref name="sizes"/> (input first, output last).</summary>
    public Mlp(LossKind loss, params int[] sizes)
    {
        if (sizes.Length < 2)
        {
            throw new ArgumentException("A network needs an input and an output layer.", nameof(sizes));
        }

        Loss = loss;
        _sizes = sizes;
        _offsets = new int[sizes.Length];
        int count = 0;
        for (int l = 1; l < sizes.Length; l++)
        {
            _offsets[l] = count;
            count += (sizes[l] * sizes[l - 1]) + sizes[l];
        }

        ParameterCount = count;
        _activations = new float[sizes.Length][];
        _deltas = new float[sizes.Length][];
        for (int l = 0; l < sizes.Length; l++)
        {
            _activations[l] = new float[sizes[l]];
            _deltas[l] = new float[sizes[l]];
        }
    }

    /// <summary>The loss the output is trained with.</summary>
    public LossKind Loss { get; }

    /// <summary>The number of weights and biases.</summary>
    public int ParameterCount { get; }

    /// <summary>Input width.</summary>
    public int Inputs => _sizes[0];

    /// <summary>Output width.</summary>
    public int Outputs => _sizes[^1];

    /// <summary>Uniform Glorot initialization: W ~ U(±√(6/(in + out))), b = 0.</summary>
    public void Initialize(Span<float> parameters, Random random)
    {
        for (int l = 1; l < _sizes.Length; l++)
        {
            double limit = Math.Sqrt(6.0 / (_sizes[l] + _sizes[l - 1]));
            Span<float> w = Weights(parameters, l);
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = (float)(((random.NextDouble() * 2) - 1) * limit);
            }

            Biases(parameters, l).Clear();
        }
    }

    /// <summary>The network's outputs for one example (a view valid until the next call).</summary>
    public ReadOnlySpan<float> Forward(ReadOnlySpan<float> parameters, ReadOnlySpan<float> input)
    {
        input.CopyTo(_activations[0]);
        int last = _sizes.Length - 1;
        for (int l = 1; l <= last; l++)
        {
            ReadOnlySpan<float> w = Weights(parameters, l);
            ReadOnlySpan<float> b = Biases(parameters, l);
            float[] previous = _activations[l - 1];
            float[] current = _activations[l];
            for (int o = 0; o < current.Length; o++)
            {
                current[o] = b[o] + TensorPrimitives.Dot(w.Slice(o * previous.Length, previous.Length), previous);
            }

            if (l < last)
            {
                TensorPrimitives.Tanh(current, current);
            }
        }

        return _activations[last];
    }

    /// <summary>
    /// The loss of one example; with <paramref name="gradient"/> non-empty, also adds <paramref name="scale"/> × its
    /// gradient with respect to the parameters into <paramref name="gradient"/>.
    /// </summary>
    /// <param name="target">The class index (as a float) for cross-entropy, or the targets for squared error.</param>
    public double LossAndGradient(ReadOnlySpan<float> parameters, ReadOnlySpan<float> input, ReadOnlySpan<float> target, Span<float> gradient, float scale)
    {
        double loss = LossAndOutputDelta(parameters, input, target);
        if (!gradient.IsEmpty)
        {
            Backpropagate(parameters, gradient, scale);
        }

        return loss;
    }

    /// <summary>The forward pass and the loss of one example, leaving ∂loss/∂output in the last layer's δ.</summary>
    private double LossAndOutputDelta(ReadOnlySpan<float> parameters, ReadOnlySpan<float> input, ReadOnlySpan<float> target)
    {
        ReadOnlySpan<float> output = Forward(parameters, input);
        int last = _sizes.Length - 1;
        float[] delta = _deltas[last];
        double loss;
        if (Loss == LossKind.SoftmaxCrossEntropy)
        {
            int label = (int)target[0];
            float max = TensorPrimitives.Max(output);
            double sum = 0;
            for (int k = 0; k < output.Length; k++)
            {
                sum += Math.Exp(output[k] - max);
            }

            loss = Math.Log(sum) - (output[label] - max);
            for (int k = 0; k < output.Length; k++)
            {
                delta[k] = (float)(Math.Exp(output[k] - max) / sum) - (k == label ? 1f : 0f);
            }
        }
        else
        {
            loss = 0;
            for (int k = 0; k < output.Length; k++)
            {
                float error = output[k] - target[k];
                loss += 0.5 * error * error;
                delta[k] = error;
            }
        }

        return loss;
    }

    /// <summary>
    /// The backward pass of the example <see cref="LossAndOutputDelta"/> last saw: every layer's δ, and, when
    /// <paramref name="gradient"/> is not empty, <paramref name="scale"/> × the parameter gradient added into it.
    /// </summary>
    private void Backpropagate(ReadOnlySpan<float> parameters, Span<float> gradient, float scale)
    {
        int last = _sizes.Length - 1;

        // Backward: δ_l is ∂loss/∂(pre-activation of layer l).
        for (int l = last; l >= 1; l--)
        {
            float[] current = _deltas[l];
            float[] previous = _activations[l - 1];
            Span<float> gw = gradient.IsEmpty ? default : Weights(gradient, l);
            Span<float> gb = gradient.IsEmpty ? default : Biases(gradient, l);
            ReadOnlySpan<float> w = Weights(parameters, l);
            float[] back = _deltas[l - 1];
            Array.Clear(back);
            for (int o = 0; o < current.Length; o++)
            {
                if (!gradient.IsEmpty)
                {
                    float d = current[o] * scale;
                    gb[o] += d;
                    Span<float> row = gw.Slice(o * previous.Length, previous.Length);
                    TensorPrimitives.MultiplyAdd(previous, d, row, row);
                }

                TensorPrimitives.MultiplyAdd(w.Slice(o * previous.Length, previous.Length), current[o], back, back);
            }

            if (l > 1)
            {
                // Through tanh: a = tanh(z) so da/dz = 1 − a².
                for (int i = 0; i < back.Length; i++)
                {
                    back[i] *= 1 - (previous[i] * previous[i]);
                }
            }
        }
    }

    private Span<float> Weights(Span<float> parameters, int layer) =>
        parameters.Slice(_offsets[layer], _sizes[layer] * _sizes[layer - 1]);

    private Span<float> Biases(Span<float> parameters, int layer) =>
        parameters.Slice(_offsets[layer] + (_sizes[layer] * _sizes[layer - 1]), _sizes[layer]);

    private ReadOnlySpan<float> Weights(ReadOnlySpan<float> parameters, int layer) =>
        parameters.Slice(_offsets[layer], _sizes[layer] * _sizes[layer - 1]);

    private ReadOnlySpan<float> Biases(ReadOnlySpan<float> parameters, int layer) =>
        parameters.Slice(_offsets[layer] + (_sizes[layer] * _sizes[layer - 1]), _sizes[layer]);
}

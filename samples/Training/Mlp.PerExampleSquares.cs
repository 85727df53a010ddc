using System;
using System.Numerics.Tensors;

namespace OptGen.Samples.Training;

/// <summary>
/// A mini-batch's gradient and its batch mean of per-example squared gradients, for optimizers that average the
/// latter ([SecondMoment(Input = SecondMomentInput.PerExampleSquares)], the lecture's "Making Adam independent of B").
/// </summary>
/// <remarks>
/// For a dense layer with inputs x_b and output deltas δ_b (b = 1…B), example b's weight gradient is the outer
/// product δ_b x_bᵀ, so the batch gradient is (1/B)·δᵀx and the per-example squares' mean is
/// (1/B)·Σ_b (δ_b x_bᵀ)² = (1/B)·(δ∘δ)ᵀ(x∘x): one more matrix product of the squared matrices, never a per-example
/// gradient (the BackPACK trick, Dangel et al. 2020). The bias's are (1/B)·Σ_b δ_b and (1/B)·Σ_b δ_b².
/// </remarks>
public sealed partial class Mlp
{
    private float[][]? _batchInputs;   // per layer l ≥ 1: x (B × in), the layer's inputs over the batch
    private float[][]? _batchDeltas;   // per layer l ≥ 1: δ (B × out)

    /// <summary>
    /// The mean loss of the examples <paramref name="batch"/> of <paramref name="data"/>; writes the mean gradient
    /// into <paramref name="gradient"/> and the batch mean of the per-example squared gradients into
    /// <paramref name="perExampleSquares"/> (both overwritten).
    /// </summary>
    public double BatchGradient(ReadOnlySpan<float> parameters, Dataset data, ReadOnlySpan<int> batch, Span<float> gradient, Span<float> perExampleSquares)
    {
        int count = batch.Length;
        int last = _sizes.Length - 1;
        if (_batchInputs is null || _batchInputs[1].Length < count * _sizes[0])
        {
            _batchInputs = new float[_sizes.Length][];
            _batchDeltas = new float[_sizes.Length][];
            for (int l = 1; l <= last; l++)
            {
                _batchInputs[l] = new float[count * _sizes[l - 1]];
                _batchDeltas[l] = new float[count * _sizes[l]];
            }
        }

        // Forward and backward per example, keeping each layer's inputs and deltas as rows of the batch matrices.
        double loss = 0;
        for (int b = 0; b < count; b++)
        {
            loss += LossAndOutputDelta(parameters, data.Input(batch[b]), data.Target(batch[b]));
            Backpropagate(parameters, [], 0);
            for (int l = 1; l <= last; l++)
            {
                _activations[l - 1].CopyTo(_batchInputs[l].AsSpan(b * _sizes[l - 1]));
                _deltas[l].CopyTo(_batchDeltas![l].AsSpan(b * _sizes[l]));
            }
        }

        float mean = 1f / count;
        for (int l = 1; l <= last; l++)
        {
            int inputs = _sizes[l - 1], outputs = _sizes[l];
            Span<float> x = _batchInputs[l].AsSpan(0, count * inputs), delta = _batchDeltas![l].AsSpan(0, count * outputs);
            Product(delta, x, count, outputs, inputs, mean, Weights(gradient, l), Biases(gradient, l));

            // The squares: the same product of δ∘δ and x∘x (squared in place: the batch matrices are scratch).
            TensorPrimitives.Multiply(x, x, x);
            TensorPrimitives.Multiply(delta, delta, delta);
            Product(delta, x, count, outputs, inputs, mean, Weights(perExampleSquares, l), Biases(perExampleSquares, l));
        }

        return loss / count;
    }

    /// <summary>w = scale·dᵀx (outputs × inputs) and b = scale·Σ_rows d, for d (rows × outputs) and x (rows × inputs).</summary>
    private static void Product(ReadOnlySpan<float> d, ReadOnlySpan<float> x, int rows, int outputs, int inputs, float scale, Span<float> w, Span<float> b)
    {
        w.Clear();
        b.Clear();
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * inputs, inputs);
            for (int o = 0; o < outputs; o++)
            {
                float dro = d[(r * outputs) + o] * scale;
                b[o] += dro;
                Span<float> row = w.Slice(o * inputs, inputs);
                TensorPrimitives.MultiplyAdd(xr, dro, row, row);
            }
        }
    }
}

using System;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// Steps that take the batch mean of per-example squared gradients beside the gradient, for rules that declare
/// <c>[SecondMoment(..., Input = SecondMomentInput.PerExampleSquares)]</c> (or read <c>gsq</c>): the lecture's
/// "Making Adam independent of B". The squares are stored like the gradients (float32, Half or bfloat16), are read
/// once per element in the same fused pass (4 more bytes per element with float32), and are scaled as the gradients
/// are, by the square of <see cref="StepOptions.GradientScale"/> × the clip factor.
/// </summary>
public abstract partial class Optimizer
{
    private const string PerExampleSquaresArgument = "perExampleSquares";

    /// <summary>
    /// One step over the arena, with <paramref name="perExampleSquares"/>[i] = (1/B)·Σ_b g_{b,i}², the batch mean of
    /// the per-example squared gradients, beside <paramref name="gradients"/>[i] = (1/B)·Σ_b g_{b,i}.
    /// </summary>
    /// <param name="parameters">The parameter arena; <see cref="Length"/> elements, updated in place.</param>
    /// <param name="gradients">The gradient arena; <see cref="Length"/> elements.</param>
    /// <param name="perExampleSquares">The per-example squares' arena; <see cref="Length"/> elements, not overlapping <paramref name="parameters"/>.</param>
    /// <param name="options">Unscaling, clipping, skipping, parallelism and the batch size; null for <see cref="StepOptions.Default"/>.</param>
    /// <returns>Whether the step was taken, the gradient norm and the clip factor.</returns>
    /// <exception cref="ArgumentException">
    /// The rule does not read per-example squares, a length differs from <see cref="Length"/>, or a buffer overlaps the
    /// parameters (named by its argument). Nothing is written.
    /// </exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<float> gradients, ReadOnlySpan<float> perExampleSquares, StepOptions? options = null) =>
        StepArena<Float32Codec, Float32Codec, float, float>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>The arena step with per-example squares, over <see cref="Half"/> parameters, gradients and squares.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public StepResult Step(Span<Half> parameters, ReadOnlySpan<Half> gradients, ReadOnlySpan<Half> perExampleSquares, StepOptions? options = null) =>
        StepArena<HalfCodec, HalfCodec, Half, Half>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>The arena step with per-example squares, over <see cref="BFloat16"/> parameters, gradients and squares.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public StepResult Step(Span<BFloat16> parameters, ReadOnlySpan<BFloat16> gradients, ReadOnlySpan<BFloat16> perExampleSquares, StepOptions? options = null) =>
        options is { StochasticRounding: true }
            ? StepArena<StochasticBFloat16Codec, BFloat16Codec, BFloat16, BFloat16>(parameters, gradients, perExampleSquares, hasSquares: true, options)
            : StepArena<BFloat16Codec, BFloat16Codec, BFloat16, BFloat16>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>The arena step with per-example squares: float32 (master) parameters, <see cref="Half"/> gradients and squares.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<Half> gradients, ReadOnlySpan<Half> perExampleSquares, StepOptions? options = null) =>
        StepArena<Float32Codec, HalfCodec, float, Half>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>The arena step with per-example squares: float32 (master) parameters, <see cref="BFloat16"/> gradients and squares.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<BFloat16> gradients, ReadOnlySpan<BFloat16> perExampleSquares, StepOptions? options = null) =>
        StepArena<Float32Codec, BFloat16Codec, float, BFloat16>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>One step over every tensor in its own buffer, with each tensor's per-example squares beside its gradients.</summary>
    /// <param name="parameters">One buffer per tensor, in <see cref="Layout"/> order; updated in place.</param>
    /// <param name="gradients">One buffer per tensor, in the same order.</param>
    /// <param name="perExampleSquares">One buffer per tensor, in the same order: the batch mean of per-example squared gradients; none may overlap a parameter buffer.</param>
    /// <param name="options">Unscaling, clipping, skipping, parallelism and the batch size; null for <see cref="StepOptions.Default"/>.</param>
    /// <returns>Whether the step was taken, the gradient norm and the clip factor.</returns>
    /// <exception cref="ArgumentException">
    /// The rule does not read per-example squares, the number of buffers or a length does not match
    /// <see cref="Layout"/>, or buffers overlap (named by the argument). Nothing is written.
    /// </exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<float>> gradients, ReadOnlySpan<ReadOnlyMemory<float>> perExampleSquares, StepOptions? options = null) =>
        StepTensors<Float32Codec, Float32Codec, float, float>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>The per-tensor step with per-example squares, over <see cref="Half"/> buffers.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<Half>> parameters, ReadOnlySpan<ReadOnlyMemory<Half>> gradients, ReadOnlySpan<ReadOnlyMemory<Half>> perExampleSquares, StepOptions? options = null) =>
        StepTensors<HalfCodec, HalfCodec, Half, Half>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>The per-tensor step with per-example squares, over <see cref="BFloat16"/> buffers.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<BFloat16>> parameters, ReadOnlySpan<ReadOnlyMemory<BFloat16>> gradients, ReadOnlySpan<ReadOnlyMemory<BFloat16>> perExampleSquares, StepOptions? options = null) =>
        options is { StochasticRounding: true }
            ? StepTensors<StochasticBFloat16Codec, BFloat16Codec, BFloat16, BFloat16>(parameters, gradients, perExampleSquares, hasSquares: true, options)
            : StepTensors<BFloat16Codec, BFloat16Codec, BFloat16, BFloat16>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>The per-tensor step with per-example squares: float32 (master) parameters, <see cref="Half"/> gradients and squares.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<Half>> gradients, ReadOnlySpan<ReadOnlyMemory<Half>> perExampleSquares, StepOptions? options = null) =>
        StepTensors<Float32Codec, HalfCodec, float, Half>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>The per-tensor step with per-example squares: float32 (master) parameters, <see cref="BFloat16"/> gradients and squares.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<BFloat16>> gradients, ReadOnlySpan<ReadOnlyMemory<BFloat16>> perExampleSquares, StepOptions? options = null) =>
        StepTensors<Float32Codec, BFloat16Codec, float, BFloat16>(parameters, gradients, perExampleSquares, hasSquares: true, options);

    /// <summary>A step must pass the per-example squares exactly when the rule reads them (CPU and GPU steps).</summary>
    internal void ThrowIfSquaresMismatch(bool hasSquares)
    {
        if (Descriptor.ReadsPerExampleSquares && !hasSquares)
        {
            throw new ArgumentException(
                $"The rule '{Descriptor.Name}' averages per-example squared gradients ([SecondMoment(Input = SecondMomentInput.PerExampleSquares)]): call the Step overload that takes perExampleSquares beside the gradients. Nothing was written.",
                PerExampleSquaresArgument);
        }

        if (!Descriptor.ReadsPerExampleSquares && hasSquares)
        {
            throw new ArgumentException(
                $"The rule '{Descriptor.Name}' does not read per-example squared gradients (declare [SecondMoment(..., Input = SecondMomentInput.PerExampleSquares)] to use them); call Step without them. Nothing was written.",
                PerExampleSquaresArgument);
        }
    }

    /// <summary>The arena's squares: one per parameter, not overlapping the parameters.</summary>
    private void ThrowIfSquaresDoNotMatch(ReadOnlySpan<byte> parameters, ReadOnlySpan<byte> squares, int length)
    {
        if (length != Length)
        {
            throw new ArgumentException($"Expected {Length} per-example squares but got {length}.", PerExampleSquaresArgument);
        }

        if (parameters.Overlaps(squares))
        {
            throw new ArgumentException("The per-example squares overlap the parameters; the update is in place and needs separate buffers.", PerExampleSquaresArgument);
        }
    }

    /// <summary>The per-tensor squares: one buffer per tensor of its tensor's length (overlaps are checked with the other buffers).</summary>
    private void ThrowIfSquaresDoNotMatch<TElement>(ReadOnlySpan<ReadOnlyMemory<TElement>> squares)
    {
        if (squares.Length != Layout.TensorCount)
        {
            throw new ArgumentException($"Expected {Layout.TensorCount} per-example squares tensors but got {squares.Length}.", PerExampleSquaresArgument);
        }

        for (int j = 0; j < squares.Length; j++)
        {
            ThrowIfSquaresNotTensorOf(j, squares[j].Length);
        }
    }

    /// <summary>Throws unless tensor <paramref name="j"/>'s per-example squares have the layout's length.</summary>
    private void ThrowIfSquaresNotTensorOf(int j, int length)
    {
        if (length != Layout.LengthOf(j))
        {
            throw new ArgumentException($"Per-example squares tensor {j} has {length} elements; the layout says {Layout.LengthOf(j)}.", PerExampleSquaresArgument);
        }
    }
}

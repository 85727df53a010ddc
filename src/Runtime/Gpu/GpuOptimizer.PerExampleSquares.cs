using System;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Half = System.Half;

namespace OptGen.Gpu;

/// <summary>
/// Steps for rules that read the batch mean of per-example squared gradients beside the gradient
/// (<c>[SecondMoment(Input = SecondMomentInput.PerExampleSquares)]</c>): the squares are one more device arena, stored
/// like the gradients, read once per element by the same launch and scaled by the square of the gradient factor.
/// </summary>
public sealed partial class GpuOptimizer
{
    private const string PerExampleSquaresArgument = "perExampleSquares";
    private MemoryBuffer1D<float, Stride1D.Dense>? _stagingSquares;

    /// <summary>
    /// One step over float32 device arenas with the per-example squares beside the gradients; see
    /// <see cref="Step(ArrayView{float}, ArrayView{float}, StepOptions?, AcceleratorStream?)"/>.
    /// </summary>
    /// <param name="parameters">The parameter arena; <see cref="Length"/> elements.</param>
    /// <param name="gradients">The gradient arena.</param>
    /// <param name="perExampleSquares">The batch mean of per-example squared gradients; <see cref="Length"/> elements, not overlapping the parameters.</param>
    /// <param name="options">Unscaling, clipping, skipping, the batch size; null for the defaults.</param>
    /// <param name="stream">The stream to launch on; the default stream when null.</param>
    /// <exception cref="ArgumentException">The rule does not read per-example squares, or a view is invalid, has the wrong length, lives on another accelerator or overlaps (named by its argument). Nothing is written.</exception>
    public void Step(ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> perExampleSquares, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(Operand.Of(parameters, nameof(parameters)), Operand.Of(gradients, nameof(gradients)), Operand.Of(perExampleSquares, PerExampleSquaresArgument), hasSquares: true, GpuCodec.Float32, GpuCodec.Float32, options, stream);

    /// <summary>The step with per-example squares over <see cref="Half"/> arenas.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public void Step(ArrayView<Half> parameters, ArrayView<Half> gradients, ArrayView<Half> perExampleSquares, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(Operand.Of(parameters, nameof(parameters)), Operand.Of(gradients, nameof(gradients)), Operand.Of(perExampleSquares, PerExampleSquaresArgument), hasSquares: true, GpuCodec.Half, GpuCodec.Half, options, stream);

    /// <summary>The step with per-example squares over <see cref="BFloat16"/> arenas (stochastic rounding of the parameters with <see cref="StepOptions.StochasticRounding"/>).</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public void Step(ArrayView<BFloat16> parameters, ArrayView<BFloat16> gradients, ArrayView<BFloat16> perExampleSquares, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(
            Operand.Of(parameters, nameof(parameters)),
            Operand.Of(gradients, nameof(gradients)),
            Operand.Of(perExampleSquares, PerExampleSquaresArgument),
            hasSquares: true,
            options is { StochasticRounding: true } ? GpuCodec.StochasticBFloat16 : GpuCodec.BFloat16,
            GpuCodec.BFloat16,
            options,
            stream);

    /// <summary>The step with per-example squares: float32 (master) parameters, <see cref="Half"/> gradients and squares.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public void Step(ArrayView<float> parameters, ArrayView<Half> gradients, ArrayView<Half> perExampleSquares, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(Operand.Of(parameters, nameof(parameters)), Operand.Of(gradients, nameof(gradients)), Operand.Of(perExampleSquares, PerExampleSquaresArgument), hasSquares: true, GpuCodec.Float32, GpuCodec.Half, options, stream);

    /// <summary>The step with per-example squares: float32 (master) parameters, <see cref="BFloat16"/> gradients and squares.</summary>
    /// <exception cref="ArgumentException">See the float32 overload. Nothing is written.</exception>
    public void Step(ArrayView<float> parameters, ArrayView<BFloat16> gradients, ArrayView<BFloat16> perExampleSquares, StepOptions? options = null, AcceleratorStream? stream = null) =>
        StepCore(Operand.Of(parameters, nameof(parameters)), Operand.Of(gradients, nameof(gradients)), Operand.Of(perExampleSquares, PerExampleSquaresArgument), hasSquares: true, GpuCodec.Float32, GpuCodec.BFloat16, options, stream);

    /// <summary>
    /// One step over host memory with the per-example squares: copies parameters, gradients and squares to the device,
    /// runs the step, waits and copies the parameters back (tests and small problems).
    /// </summary>
    /// <exception cref="ArgumentException">The rule does not read per-example squares, a length differs from <see cref="Length"/>, or a buffer overlaps the parameters. Nothing is written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<float> gradients, ReadOnlySpan<float> perExampleSquares, StepOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Optimizer.ThrowIfSquaresMismatch(hasSquares: true);
        if (perExampleSquares.Length != Length)
        {
            throw new ArgumentException($"Expected {Length} per-example squares but got {perExampleSquares.Length}.", PerExampleSquaresArgument);
        }

        if (parameters.Overlaps(perExampleSquares))
        {
            throw new ArgumentException("The per-example squares overlap the parameters; the update is in place and needs separate buffers.", PerExampleSquaresArgument);
        }

        ThrowIfNotHostBuffers(parameters, gradients);

        if (Length == 0)
        {
            Step(ArrayView<float>.Empty, ArrayView<float>.Empty, ArrayView<float>.Empty, options);
            return LastResult;
        }

        EnterStaging();
        try
        {
            _stagingParameters ??= Accelerator.Allocate1D<float>(Length);
            _stagingGradients ??= Accelerator.Allocate1D<float>(Length);
            _stagingSquares ??= Accelerator.Allocate1D<float>(Length);
            ArrayView<float> p = _stagingParameters.View.BaseView;
            ArrayView<float> g = _stagingGradients.View.BaseView;
            ArrayView<float> q = _stagingSquares.View.BaseView;
            unsafe
            {
                fixed (float* hostParameters = parameters)
                fixed (float* hostGradients = gradients)
                fixed (float* hostSquares = perExampleSquares)
                {
                    p.CopyFromCPU(ref MemoryMarshal.GetReference(parameters), parameters.Length);
                    g.CopyFromCPU(ref MemoryMarshal.GetReference(gradients), gradients.Length);
                    q.CopyFromCPU(ref MemoryMarshal.GetReference(perExampleSquares), perExampleSquares.Length);
                    Step(p, g, q, options);
                    p.CopyToCPU(ref MemoryMarshal.GetReference(parameters), parameters.Length);
                }
            }
        }
        finally
        {
            System.Threading.Volatile.Write(ref _stagingBusy, 0);
        }

        return LastResult;
    }
}

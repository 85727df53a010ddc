using System;
using OptGen.Kernels;

namespace OptGen;

/// <summary>Mixed precision: 16-bit parameters and gradients, float32 math and float32 state.</summary>
public abstract partial class Optimizer
{
    /// <summary>
    /// One step over <see cref="Half"/> parameters and gradients (an arena in <see cref="Layout"/> order): each
    /// element is widened to float32, updated with float32 math against the float32 state, and rounded back to
    /// nearest (ties to even).
    /// </summary>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the buffers overlap. Nothing is written.</exception>
    public StepResult Step(Span<Half> parameters, ReadOnlySpan<Half> gradients, StepOptions? options = null) =>
        StepArena<HalfCodec, HalfCodec, Half, Half>(parameters, gradients, options);

    /// <summary>
    /// One step over <see cref="BFloat16"/> parameters and gradients (an arena in <see cref="Layout"/> order), with
    /// float32 math and state; parameters are rounded to nearest even, or stochastically with
    /// <see cref="StepOptions.StochasticRounding"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the buffers overlap. Nothing is written.</exception>
    public StepResult Step(Span<BFloat16> parameters, ReadOnlySpan<BFloat16> gradients, StepOptions? options = null) =>
        options is { StochasticRounding: true }
            ? StepArena<StochasticBFloat16Codec, BFloat16Codec, BFloat16, BFloat16>(parameters, gradients, options)
            : StepArena<BFloat16Codec, BFloat16Codec, BFloat16, BFloat16>(parameters, gradients, options);

    /// <summary>One step over float32 (master) parameters with <see cref="Half"/> gradients, as automatic mixed precision trains.</summary>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the buffers overlap. Nothing is written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<Half> gradients, StepOptions? options = null) =>
        StepArena<Float32Codec, HalfCodec, float, Half>(parameters, gradients, options);

    /// <summary>One step over float32 (master) parameters with <see cref="BFloat16"/> gradients.</summary>
    /// <exception cref="ArgumentException">A length differs from <see cref="Length"/>, or the buffers overlap. Nothing is written.</exception>
    public StepResult Step(Span<float> parameters, ReadOnlySpan<BFloat16> gradients, StepOptions? options = null) =>
        StepArena<Float32Codec, BFloat16Codec, float, BFloat16>(parameters, gradients, options);

    /// <summary>One step over <see cref="Half"/> parameters and gradients, one buffer per tensor; see the arena overload.</summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or buffers overlap. Nothing is written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<Half>> parameters, ReadOnlySpan<ReadOnlyMemory<Half>> gradients, StepOptions? options = null) =>
        StepTensors<HalfCodec, HalfCodec, Half, Half>(parameters, gradients, options);

    /// <summary>One step over <see cref="BFloat16"/> parameters and gradients, one buffer per tensor; see the arena overload.</summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or buffers overlap. Nothing is written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<BFloat16>> parameters, ReadOnlySpan<ReadOnlyMemory<BFloat16>> gradients, StepOptions? options = null) =>
        options is { StochasticRounding: true }
            ? StepTensors<StochasticBFloat16Codec, BFloat16Codec, BFloat16, BFloat16>(parameters, gradients, options)
            : StepTensors<BFloat16Codec, BFloat16Codec, BFloat16, BFloat16>(parameters, gradients, options);

    /// <summary>One step over float32 (master) parameters with <see cref="Half"/> gradients, one buffer per tensor.</summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or buffers overlap. Nothing is written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<Half>> gradients, StepOptions? options = null) =>
        StepTensors<Float32Codec, HalfCodec, float, Half>(parameters, gradients, options);

    /// <summary>One step over float32 (master) parameters with <see cref="BFloat16"/> gradients, one buffer per tensor.</summary>
    /// <exception cref="ArgumentException">The number of buffers or a length does not match <see cref="Layout"/>, or buffers overlap. Nothing is written.</exception>
    public StepResult Step(ReadOnlySpan<Memory<float>> parameters, ReadOnlySpan<ReadOnlyMemory<BFloat16>> gradients, StepOptions? options = null) =>
        StepTensors<Float32Codec, BFloat16Codec, float, BFloat16>(parameters, gradients, options);
}

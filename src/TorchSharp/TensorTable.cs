using System;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace OptGen.TorchSharp;

/// <summary>
/// One <see cref="Memory{T}"/> per parameter and per gradient over the tensors' storage, re-aimed every step, and the
/// OptGen multi-tensor <c>Step</c> overload for the element type: the whole model in one call, nothing copied.
/// </summary>
internal abstract class TensorTable
{
    /// <summary>The table for tensors of <paramref name="dtype"/> (float32, float16 or bfloat16).</summary>
    public static TensorTable For(ScalarType dtype, int count) => dtype switch
    {
        ScalarType.Float32 => new TensorTable<float>(count),
        ScalarType.Float16 => new TensorTable<Half>(count),
        ScalarType.BFloat16 => new TensorTable<BFloat16>(count),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unsupported dtype."),
    };

    /// <summary>Points tensor <paramref name="tensor"/>'s buffers at the parameter's and the gradient's first element.</summary>
    public abstract void Aim(int tensor, nint parameter, nint gradient, int length);

    /// <summary>The OptGen step over every aimed tensor.</summary>
    public abstract StepResult Step(Optimizer optimizer, StepOptions? options);
}

/// <inheritdoc/>
internal sealed class TensorTable<T> : TensorTable
    where T : unmanaged
{
    private readonly NativeBuffer<T>[] _parameterBuffers;
    private readonly NativeBuffer<T>[] _gradientBuffers;
    private readonly Memory<T>[] _parameters;
    private readonly ReadOnlyMemory<T>[] _gradients;

    public TensorTable(int count)
    {
        _parameterBuffers = new NativeBuffer<T>[count];
        _gradientBuffers = new NativeBuffer<T>[count];
        for (int j = 0; j < count; j++)
        {
            _parameterBuffers[j] = new NativeBuffer<T>();
            _gradientBuffers[j] = new NativeBuffer<T>();
        }

        _parameters = new Memory<T>[count];
        _gradients = new ReadOnlyMemory<T>[count];
    }

    public override void Aim(int tensor, nint parameter, nint gradient, int length)
    {
        _parameterBuffers[tensor].Aim(parameter, length);
        _gradientBuffers[tensor].Aim(gradient, length);
        _parameters[tensor] = _parameterBuffers[tensor].Current;
        _gradients[tensor] = _gradientBuffers[tensor].Current;
    }

    public override StepResult Step(Optimizer optimizer, StepOptions? options)
    {
        // T is exactly the element type of the overload taken (checked by the typeof tests, folded by the JIT).
        if (typeof(T) == typeof(float))
        {
            return optimizer.Step(Unsafe.As<Memory<float>[]>(_parameters), Unsafe.As<ReadOnlyMemory<float>[]>(_gradients), options);
        }

        if (typeof(T) == typeof(Half))
        {
            return optimizer.Step(Unsafe.As<Memory<Half>[]>(_parameters), Unsafe.As<ReadOnlyMemory<Half>[]>(_gradients), options);
        }

        return optimizer.Step(Unsafe.As<Memory<BFloat16>[]>(_parameters), Unsafe.As<ReadOnlyMemory<BFloat16>[]>(_gradients), options);
    }
}

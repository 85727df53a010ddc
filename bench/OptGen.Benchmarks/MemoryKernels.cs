// The memory roofline: kernels that move exactly the bytes a rule moves, with trivial arithmetic.

using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using OptGen.Kernels;

namespace OptGen.Benchmarks;

/// <summary>
/// A rule's memory access pattern, from the generator's own traffic accounting
/// (<see cref="OptimizerDescriptor.BytesReadPerElement"/>, <see cref="OptimizerDescriptor.BytesWrittenPerElement"/>,
/// <see cref="OptimizerDescriptor.States"/>): p and g read, p written, and some state buffers read and written in place.
/// </summary>
/// <param name="StatesRead">State buffers read per element.</param>
/// <param name="StatesWritten">State buffers written per element (the first <paramref name="StatesWritten"/> of those read).</param>
/// <param name="Inputs">Read-only planes beside g (<see cref="OptimizerDescriptor.Inputs"/>: per-example squares), at <see cref="KernelArguments.InputOffset"/> from g.</param>
public readonly record struct AccessPattern(int StatesRead, int StatesWritten, int Inputs = 0)
{
    /// <summary>Bytes moved per element and step (float32).</summary>
    public int BytesPerElement => ((2 + Inputs + StatesRead) + (1 + StatesWritten)) * sizeof(float);

    /// <summary>The pattern of <paramref name="descriptor"/>'s rule.</summary>
    public static AccessPattern Of(OptimizerDescriptor descriptor)
    {
        // p and g are always read and p always written, the inputs beside g are read; the rest is state.
        int inputs = descriptor.Inputs.Count;
        int statesRead = (descriptor.BytesReadPerElement / sizeof(float)) - 2 - inputs;
        int statesWritten = (descriptor.BytesWrittenPerElement / sizeof(float)) - 1;
        if (statesRead < 0 || statesWritten < 0 || statesRead > descriptor.States.Count || statesWritten > statesRead)
        {
            throw new ArgumentException(
                $"{descriptor.Name}: {descriptor.BytesReadPerElement} B read / {descriptor.BytesWrittenPerElement} B written per element does not fit p, g and {descriptor.States.Count} state buffers.",
                nameof(descriptor));
        }

        return new AccessPattern(statesRead, statesWritten, inputs);
    }

    /// <inheritdoc/>
    public override string ToString() => $"read p, g{(Inputs > 0 ? $" + {Inputs} input" : string.Empty)} + {StatesRead} state, write p + {StatesWritten} state ({BytesPerElement} B/element)";
}

/// <summary>Runs the memory-only kernel for an access pattern through the same driver (and thread split) as generated kernels.</summary>
public static class MemoryKernel
{
    /// <summary>One pass over the buffers: the roofline for a rule with <paramref name="pattern"/>.</summary>
    public static void Run(AccessPattern pattern, scoped in KernelArguments arguments)
    {
        var scale = new MemoryScale(1e-30f);
        switch (pattern)
        {
            case { Inputs: > 0 }:
                UpdateDriver.Run<MemoryAny, Float32Codec, Float32Codec, Float32Codec>(new MemoryAny(scale, pattern, arguments.InputOffset), in arguments);
                break;
            case { StatesRead: 0, StatesWritten: 0 }:
                UpdateDriver.Run<Memory0, Float32Codec, Float32Codec, Float32Codec>(new Memory0(scale), in arguments);
                break;
            case { StatesRead: 1, StatesWritten: 1 }:
                UpdateDriver.Run<Memory1, Float32Codec, Float32Codec, Float32Codec>(new Memory1(scale), in arguments);
                break;
            case { StatesRead: 2, StatesWritten: 2 }:
                UpdateDriver.Run<Memory2, Float32Codec, Float32Codec, Float32Codec>(new Memory2(scale), in arguments);
                break;
            case { StatesRead: 3, StatesWritten: 3 }:
                UpdateDriver.Run<Memory3, Float32Codec, Float32Codec, Float32Codec>(new Memory3(scale), in arguments);
                break;
            default:
                // Any other pattern (a rule that reads a state it does not write, or more than 3 buffers): a loop over k.
                UpdateDriver.Run<MemoryAny, Float32Codec, Float32Codec, Float32Codec>(new MemoryAny(scale, pattern), in arguments);
                break;
        }
    }
}

/// <summary>The trivial arithmetic: x ← x + c·g with a tiny c, so nothing can be folded away and values stay put.</summary>
public readonly record struct MemoryScale(float C);

#pragma warning disable CS1591 // The four widths of each kernel are the same two lines; IUpdateKernel documents them.

/// <summary>Read p, g; write p.</summary>
public readonly struct Memory0(MemoryScale scale) : IUpdateKernel
{
    private readonly float _c = scale.C;

    public static int StateCount => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        float gi = TG.Load(ref g, i) * _c;
        TP.Store(ref p, i, TP.Load(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step128<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector128<float> gi = TG.Load128(ref g, i) * _c;
        TP.Store128(ref p, i, TP.Load128(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step256<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector256<float> gi = TG.Load256(ref g, i) * _c;
        TP.Store256(ref p, i, TP.Load256(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step512<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector512<float> gi = TG.Load512(ref g, i) * _c;
        TP.Store512(ref p, i, TP.Load512(ref p, i) + gi);
    }
}

/// <summary>Read p, g, s₀; write p, s₀.</summary>
public readonly struct Memory1(MemoryScale scale) : IUpdateKernel
{
    private readonly float _c = scale.C;

    public static int StateCount => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        float gi = TG.Load(ref g, i) * _c;
        TS.Store(ref s, i, TS.Load(ref s, i) + gi);
        TP.Store(ref p, i, TP.Load(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step128<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector128<float> gi = TG.Load128(ref g, i) * _c;
        TS.Store128(ref s, i, TS.Load128(ref s, i) + gi);
        TP.Store128(ref p, i, TP.Load128(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step256<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector256<float> gi = TG.Load256(ref g, i) * _c;
        TS.Store256(ref s, i, TS.Load256(ref s, i) + gi);
        TP.Store256(ref p, i, TP.Load256(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step512<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector512<float> gi = TG.Load512(ref g, i) * _c;
        TS.Store512(ref s, i, TS.Load512(ref s, i) + gi);
        TP.Store512(ref p, i, TP.Load512(ref p, i) + gi);
    }
}

/// <summary>Read p, g, s₀, s₁; write p, s₀, s₁ (Adam's pattern).</summary>
public readonly struct Memory2(MemoryScale scale) : IUpdateKernel
{
    private readonly float _c = scale.C;

    public static int StateCount => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        float gi = TG.Load(ref g, i) * _c;
        TS.Store(ref s, i, TS.Load(ref s, i) + gi);
        TS.Store(ref s, stride + i, TS.Load(ref s, stride + i) + gi);
        TP.Store(ref p, i, TP.Load(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step128<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector128<float> gi = TG.Load128(ref g, i) * _c;
        TS.Store128(ref s, i, TS.Load128(ref s, i) + gi);
        TS.Store128(ref s, stride + i, TS.Load128(ref s, stride + i) + gi);
        TP.Store128(ref p, i, TP.Load128(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step256<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector256<float> gi = TG.Load256(ref g, i) * _c;
        TS.Store256(ref s, i, TS.Load256(ref s, i) + gi);
        TS.Store256(ref s, stride + i, TS.Load256(ref s, stride + i) + gi);
        TP.Store256(ref p, i, TP.Load256(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step512<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector512<float> gi = TG.Load512(ref g, i) * _c;
        TS.Store512(ref s, i, TS.Load512(ref s, i) + gi);
        TS.Store512(ref s, stride + i, TS.Load512(ref s, stride + i) + gi);
        TP.Store512(ref p, i, TP.Load512(ref p, i) + gi);
    }
}

/// <summary>Read p, g, s₀, s₁, s₂; write p, s₀, s₁, s₂ (AMSGrad's pattern).</summary>
public readonly struct Memory3(MemoryScale scale) : IUpdateKernel
{
    private readonly float _c = scale.C;

    public static int StateCount => 3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        float gi = TG.Load(ref g, i) * _c;
        TS.Store(ref s, i, TS.Load(ref s, i) + gi);
        TS.Store(ref s, stride + i, TS.Load(ref s, stride + i) + gi);
        TS.Store(ref s, (2 * stride) + i, TS.Load(ref s, (2 * stride) + i) + gi);
        TP.Store(ref p, i, TP.Load(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step128<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector128<float> gi = TG.Load128(ref g, i) * _c;
        TS.Store128(ref s, i, TS.Load128(ref s, i) + gi);
        TS.Store128(ref s, stride + i, TS.Load128(ref s, stride + i) + gi);
        TS.Store128(ref s, (2 * stride) + i, TS.Load128(ref s, (2 * stride) + i) + gi);
        TP.Store128(ref p, i, TP.Load128(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step256<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector256<float> gi = TG.Load256(ref g, i) * _c;
        TS.Store256(ref s, i, TS.Load256(ref s, i) + gi);
        TS.Store256(ref s, stride + i, TS.Load256(ref s, stride + i) + gi);
        TS.Store256(ref s, (2 * stride) + i, TS.Load256(ref s, (2 * stride) + i) + gi);
        TP.Store256(ref p, i, TP.Load256(ref p, i) + gi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step512<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector512<float> gi = TG.Load512(ref g, i) * _c;
        TS.Store512(ref s, i, TS.Load512(ref s, i) + gi);
        TS.Store512(ref s, stride + i, TS.Load512(ref s, stride + i) + gi);
        TS.Store512(ref s, (2 * stride) + i, TS.Load512(ref s, (2 * stride) + i) + gi);
        TP.Store512(ref p, i, TP.Load512(ref p, i) + gi);
    }
}

/// <summary>Any pattern: reads <see cref="AccessPattern.StatesRead"/> state buffers, writes the first <see cref="AccessPattern.StatesWritten"/>.</summary>
public readonly struct MemoryAny(MemoryScale scale, AccessPattern pattern, nint inputOffset = 0) : IUpdateKernel
{
    private readonly float _c = scale.C;
    private readonly int _read = pattern.StatesRead;
    private readonly int _written = pattern.StatesWritten;
    private readonly int _inputs = pattern.Inputs;
    private readonly nint _inputOffset = inputOffset;

    public static int StateCount => 0;

    public void Step<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        float gi = TG.Load(ref g, i) * _c;
        float acc = TP.Load(ref p, i);
        for (int k = 0; k < _inputs; k++)
        {
            acc += TG.Load(ref Unsafe.AddByteOffset(ref g, _inputOffset), i) * _c; // the plane beside g (one input)
        }

        for (int k = 0; k < _read; k++)
        {
            nuint at = ((nuint)k * stride) + i;
            float x = TS.Load(ref s, at);
            acc += x * _c;
            if (k < _written)
            {
                TS.Store(ref s, at, x + gi);
            }
        }

        TP.Store(ref p, i, acc + gi);
    }

    public void Step128<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector128<float> gi = TG.Load128(ref g, i) * _c;
        Vector128<float> acc = TP.Load128(ref p, i);
        for (int k = 0; k < _inputs; k++)
        {
            acc += TG.Load128(ref Unsafe.AddByteOffset(ref g, _inputOffset), i) * _c; // the plane beside g (one input)
        }

        for (int k = 0; k < _read; k++)
        {
            nuint at = ((nuint)k * stride) + i;
            Vector128<float> x = TS.Load128(ref s, at);
            acc += x * _c;
            if (k < _written)
            {
                TS.Store128(ref s, at, x + gi);
            }
        }

        TP.Store128(ref p, i, acc + gi);
    }

    public void Step256<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector256<float> gi = TG.Load256(ref g, i) * _c;
        Vector256<float> acc = TP.Load256(ref p, i);
        for (int k = 0; k < _inputs; k++)
        {
            acc += TG.Load256(ref Unsafe.AddByteOffset(ref g, _inputOffset), i) * _c; // the plane beside g (one input)
        }

        for (int k = 0; k < _read; k++)
        {
            nuint at = ((nuint)k * stride) + i;
            Vector256<float> x = TS.Load256(ref s, at);
            acc += x * _c;
            if (k < _written)
            {
                TS.Store256(ref s, at, x + gi);
            }
        }

        TP.Store256(ref p, i, acc + gi);
    }

    public void Step512<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector512<float> gi = TG.Load512(ref g, i) * _c;
        Vector512<float> acc = TP.Load512(ref p, i);
        for (int k = 0; k < _inputs; k++)
        {
            acc += TG.Load512(ref Unsafe.AddByteOffset(ref g, _inputOffset), i) * _c; // the plane beside g (one input)
        }

        for (int k = 0; k < _read; k++)
        {
            nuint at = ((nuint)k * stride) + i;
            Vector512<float> x = TS.Load512(ref s, at);
            acc += x * _c;
            if (k < _written)
            {
                TS.Store512(ref s, at, x + gi);
            }
        }

        TP.Store512(ref p, i, acc + gi);
    }
}

// An experiment on the emitted code: Adam's exact arithmetic (same operations, same order, same rounding) with the
// per-step scalars broadcast once per kernel instead of once per use inside the loop.

using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using OptGen.Kernels;

namespace OptGen.Benchmarks;

/// <summary>
/// The <c>hoisted</c> pair (quick mode with <c>--hoisted</c>): generated Adam ÷ the same kernel with pre-broadcast
/// Vector512 fields. On Linux x64 the JIT does not hoist <c>Vector512.Create(field)</c> out of the loop (no
/// callee-saved vector registers), so the generated loop pays a broadcast per scalar per iteration.
/// </summary>
internal static class HoistedAdamExperiment
{
    public static PairResult Measure(int elements, int threads, QuickOptions options)
    {
        Rule adam = Rule.All[0];
        var work = new Workload(adam, elements);
        var optimizer = (Adam)work.Optimizer;
        long t = 0;
        return QuickRunner.Measure(
            $"hoisted/Adam/{elements}/{threads}", "generated", "pre-broadcast",
            () => work.Generated(threads),
            () =>
            {
                t++;
                const double b1 = 0.9, b2 = 0.999;
                var kernel = new HoistedAdam(1f, (float)b1, (float)(1 - b1), (float)b2, (float)(1 - b2), (float)Math.Sqrt(1 - Math.Pow(b2, t)), 1e-8f, (float)(1e-3 / (1 - Math.Pow(b1, t))));
                ref float state = ref MemoryMarshal.GetReference(optimizer.FirstMoment);
                var arguments = new KernelArguments
                {
                    Step = t,
                    GradientScale = 1,
                    Parameters = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(work.Parameters)),
                    Gradients = ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(work.Gradients)),
                    State = ref Unsafe.As<float, byte>(ref state),
                    StateStride = (nuint)(PinnedBuffer.Address(ref MemoryMarshal.GetReference(optimizer.SecondMoment)) - PinnedBuffer.Address(ref state)) / sizeof(float),
                    Length = (nuint)elements,
                    MaxDegreeOfParallelism = threads,
                };
                UpdateDriver.Run<HoistedAdam, Float32Codec, Float32Codec, Float32Codec>(in kernel, in arguments);
            },
            work,
            options);
    }
}

#pragma warning disable CS1591

/// <summary>Adam as emitted (no FMA, same order), with every scalar pre-broadcast to Vector512 once.</summary>
public readonly struct HoistedAdam(float scale, float decay1, float weight1, float decay2, float weight2, float correction2, float epsilon, float stepSize) : IUpdateKernel
{
    private readonly Vector512<float> _scale = Vector512.Create(scale);
    private readonly Vector512<float> _decay1 = Vector512.Create(decay1);
    private readonly Vector512<float> _weight1 = Vector512.Create(weight1);
    private readonly Vector512<float> _decay2 = Vector512.Create(decay2);
    private readonly Vector512<float> _weight2 = Vector512.Create(weight2);
    private readonly Vector512<float> _correction2 = Vector512.Create(correction2);
    private readonly Vector512<float> _epsilon = Vector512.Create(epsilon);
    private readonly Vector512<float> _stepSize = Vector512.Create(stepSize);

    public static int StateCount => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        float gi = TG.Load(ref g, i) * _scale[0];
        float m = (_decay1[0] * TS.Load(ref s, i)) + (_weight1[0] * gi);
        float v = (_decay2[0] * TS.Load(ref s, stride + i)) + (_weight2[0] * gi * gi);
        float denom = (MathF.Sqrt(v) / _correction2[0]) + _epsilon[0];
        TP.Store(ref p, i, TP.Load(ref p, i) - (_stepSize[0] * (m / denom)));
        TS.Store(ref s, i, m);
        TS.Store(ref s, stride + i, v);
    }

    public void Step128<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        for (nuint j = 0; j < 4; j++)
        {
            Step<TP, TG, TS>(ref p, ref g, ref s, stride, i + j);
        }
    }

    public void Step256<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        for (nuint j = 0; j < 8; j++)
        {
            Step<TP, TG, TS>(ref p, ref g, ref s, stride, i + j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step512<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TP : struct, IElementCodec where TG : struct, IElementCodec where TS : struct, IElementCodec
    {
        Vector512<float> gi = TG.Load512(ref g, i) * _scale;
        Vector512<float> m = (_decay1 * TS.Load512(ref s, i)) + (_weight1 * gi);
        Vector512<float> v = (_decay2 * TS.Load512(ref s, stride + i)) + (_weight2 * gi * gi);
        Vector512<float> denom = (Vector512.Sqrt(v) / _correction2) + _epsilon;
        TP.Store512(ref p, i, TP.Load512(ref p, i) - (_stepSize * (m / denom)));
        TS.Store512(ref s, i, m);
        TS.Store512(ref s, stride + i, v);
    }
}

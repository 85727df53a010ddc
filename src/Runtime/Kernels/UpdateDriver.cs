using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptGen.Kernels;

/// <summary>
/// The one loop every generated kernel runs in: 512-bit blocks, then 256, then 128, then a scalar tail. The tail
/// is scalar (not an overlapping last vector) because the update is in place: re-running elements would apply
/// the update twice. Above a size threshold the elements are split across cores by <see cref="ParallelUpdate"/>.
/// </summary>
public static class UpdateDriver
{
    /// <summary>Runs <paramref name="kernel"/> over <see cref="KernelArguments.Length"/> elements.</summary>
    /// <remarks>
    /// Tensors of at least <see cref="ParallelUpdate.MinimumElementsPerThread"/>·2 elements are split into
    /// <see cref="ParallelUpdate.ChunkElements"/>-element chunks (a multiple of 16) shared by up to
    /// <see cref="KernelArguments.MaxDegreeOfParallelism"/> threads; every element goes through the same SIMD width
    /// as in a single-threaded run, so the result does not depend on the thread count.
    /// </remarks>
    public static void Run<TKernel, TParameter, TGradient, TState>(in TKernel kernel, scoped in KernelArguments arguments)
        where TKernel : struct, IUpdateKernel
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        if (arguments.Blockwise.Codebooks is not null)
        {
            BlockwiseDriver.Run<TKernel, TParameter, TGradient>(in kernel, in arguments);
            return;
        }

        int threads = ParallelUpdate.ThreadsFor(arguments.Length, arguments.MaxDegreeOfParallelism);
        if (threads > 1)
        {
            ParallelUpdate.Run<TKernel, TParameter, TGradient, TState>(in kernel, in arguments, threads);
            return;
        }

        RunRange<TKernel, TParameter, TGradient, TState>(
            in kernel, ref arguments.Parameters, ref arguments.Gradients, ref arguments.State, arguments.StateStride, 0, arguments.Length);
    }

    /// <summary>
    /// How far ahead of the element being updated the main loop (512-bit, or 256-bit where 512-bit vectors are not
    /// accelerated) touches each stream, in elements (1 KiB of float32): one prefetch per stream and 64-byte line. When the tensors sit in L3 (around 1M elements) the
    /// hardware prefetchers alone left the step waiting on L3 between its √ and divisions. Measured in quick mode
    /// (three processes each way): RMSprop and Adagrad at 1M went from 1.7–2.0× the memory-only kernel to
    /// 1.55–1.65×, the Adam family on one thread from 1.2–1.5× to 1.05–1.26×; no change at 16M and 64M. A prefetch
    /// never faults, so touching past the end of a buffer is harmless.
    /// </summary>
    private const nuint PrefetchDistance = 256;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch<TKernel, TParameter, TGradient, TState>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
        where TKernel : struct, IUpdateKernel
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref p, i * (nuint)TParameter.ElementSize)));
        Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref g, i * (nuint)TGradient.ElementSize)));
        for (int k = 0; k < TKernel.StateCount; k++)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref s, ((stride * (nuint)k) + i) * (nuint)TState.ElementSize)));
        }
    }

    /// <summary>
    /// Runs <paramref name="kernel"/> over elements [<paramref name="start"/>, <paramref name="end"/>) of the
    /// buffers: 512-bit blocks from <paramref name="start"/>, then the narrower widths and the scalar tail.
    /// </summary>
    /// <param name="kernel">The per-step kernel.</param>
    /// <param name="p">The first parameter element (element 0, not element <paramref name="start"/>).</param>
    /// <param name="g">The first gradient element.</param>
    /// <param name="s">The first element of state buffer 0.</param>
    /// <param name="stride">The distance, in elements, between state buffers.</param>
    /// <param name="start">The first element to update.</param>
    /// <param name="end">One past the last element to update.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunRange<TKernel, TParameter, TGradient, TState>(
        in TKernel kernel, ref byte p, ref byte g, ref byte s, nuint stride, nuint start, nuint end)
        where TKernel : struct, IUpdateKernel
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        // A local copy lets the JIT keep the kernel's per-step scalars in registers (broadcast once, outside the
        // loops) instead of reloading them from the caller's struct on every iteration: stores through p, g and s
        // could alias an `in` parameter, never a local.
        TKernel local = kernel;
        nuint i = start;

        if (Vector512.IsHardwareAccelerated && end - i >= (nuint)Vector512<float>.Count)
        {
            nuint last = end - (nuint)Vector512<float>.Count;
            for (; i <= last; i += (nuint)Vector512<float>.Count)
            {
                Prefetch<TKernel, TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i + PrefetchDistance);
                local.Step512<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
            }
        }

        if (Vector256.IsHardwareAccelerated && end - i >= (nuint)Vector256<float>.Count)
        {
            if (!Vector512.IsHardwareAccelerated && end - i >= 2 * (nuint)Vector256<float>.Count)
            {
                // The main loop where 512-bit vectors are not accelerated (AVX2 machines): two vectors, one 64-byte
                // line of float32, per prefetch. Measured on this machine with AVX-512 turned off
                // (DOTNET_EnableAVX512=0, two processes each way): the Adam family's float32 step at 64M on one
                // thread went from 1.20–1.48× its memory-only kernel (Adam 60–63 ms) to 1.04–1.12× (48 ms), and at
                // 16M from 1.08–1.18× to 1.00–1.05×; two threads stayed at 1.0–1.1.
                nuint lastPair = end - (2 * (nuint)Vector256<float>.Count);
                for (; i <= lastPair; i += 2 * (nuint)Vector256<float>.Count)
                {
                    Prefetch<TKernel, TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i + PrefetchDistance);
                    local.Step256<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
                    local.Step256<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i + (nuint)Vector256<float>.Count);
                }
            }

            nuint last = end - (nuint)Vector256<float>.Count;
            for (; i <= last; i += (nuint)Vector256<float>.Count)
            {
                local.Step256<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
            }
        }

        if (Vector128.IsHardwareAccelerated && end - i >= (nuint)Vector128<float>.Count)
        {
            nuint last = end - (nuint)Vector128<float>.Count;
            for (; i <= last; i += (nuint)Vector128<float>.Count)
            {
                local.Step128<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
            }
        }

        for (; i < end; i++)
        {
            local.Step<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
        }
    }
}

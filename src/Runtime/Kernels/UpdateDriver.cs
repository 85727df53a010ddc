using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// The one loop every generated kernel runs in: 512-bit blocks, then 256, then 128, then a scalar tail. The tail
/// is scalar (not an overlapping last vector) because the update is in place: re-running elements would apply
/// the update twice.
/// </summary>
public static class UpdateDriver
{
    /// <summary>Runs <paramref name="kernel"/> over <see cref="KernelArguments.Length"/> elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TKernel, TParameter, TGradient, TState>(in TKernel kernel, scoped in KernelArguments arguments)
        where TKernel : struct, IUpdateKernel
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        ref byte p = ref arguments.Parameters;
        ref byte g = ref arguments.Gradients;
        ref byte s = ref arguments.State;
        nuint stride = arguments.StateStride;
        nuint n = arguments.Length;
        nuint i = 0;

        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            nuint last = n - (nuint)Vector512<float>.Count;
            for (; i <= last; i += (nuint)Vector512<float>.Count)
            {
                kernel.Step512<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
            }
        }

        if (Vector256.IsHardwareAccelerated && n - i >= (nuint)Vector256<float>.Count)
        {
            nuint last = n - (nuint)Vector256<float>.Count;
            for (; i <= last; i += (nuint)Vector256<float>.Count)
            {
                kernel.Step256<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
            }
        }

        if (Vector128.IsHardwareAccelerated && n - i >= (nuint)Vector128<float>.Count)
        {
            nuint last = n - (nuint)Vector128<float>.Count;
            for (; i <= last; i += (nuint)Vector128<float>.Count)
            {
                kernel.Step128<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
            }
        }

        for (; i < n; i++)
        {
            kernel.Step<TParameter, TGradient, TState>(ref p, ref g, ref s, stride, i);
        }
    }
}

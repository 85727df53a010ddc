using ILGPU;
using ILGPU.Runtime.Cuda;

namespace OptGen.Kernels;

/// <summary>
/// Scalar element operations that the generated kernels' scalar code calls, on the CPU and (the same code compiled by
/// ILGPU) on a GPU. Used by generated kernels.
/// </summary>
public static class ElementMath
{
    /// <summary>
    /// a·b + c rounded once to float32 (IEEE fusedMultiplyAdd, round to nearest even): the same bits as
    /// <see cref="System.MathF.FusedMultiplyAdd"/> and the SIMD <c>FusedMultiplyAdd</c> of every vector width.
    /// </summary>
    /// <remarks>
    /// ILGPU 1.5.3 compiles <see cref="System.MathF.FusedMultiplyAdd"/> to a call of an undefined external function
    /// on CUDA, so this cannot call it. On CUDA it is the instruction <c>fma.rn.f32</c>; elsewhere (ILGPU's CPU
    /// accelerator, the CPU's scalar path) it is computed exactly in double: a·b is exact in double (24 + 24 bits
    /// &lt; 53), the sum s = a·b + c is rounded once, its exact error e comes from Knuth's TwoSum, and when e ≠ 0 an
    /// even s moves one unit toward e. That is round-to-odd at 53 bits, and rounding a round-to-odd result with 53 ≥
    /// 24 + 2 bits to float32 gives the correctly rounded result (Boldo and Melquiond, "When double rounding is
    /// odd", 2005). No product and sum here is contracted: .NET never contracts, and on CUDA this branch is not taken.
    /// </remarks>
    /// <param name="a">The first factor.</param>
    /// <param name="b">The second factor.</param>
    /// <param name="c">The addend.</param>
    /// <returns>a·b + c, rounded once.</returns>
    public static float FusedMultiplyAdd(float a, float b, float c)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("fma.rn.f32 %0, %1, %2, %3;", out float fused, a, b, c);
            return fused;
        }

        double product = (double)a * b;
        double sum = product + c;
        double addend = sum - product;
        double error = (product - (sum - addend)) + (c - addend);
        // sum is finite (by its exponent bits, not sum − sum == 0, which a fast-math backend may fold) and inexact:
        // round it to odd (an even sum moves one unit toward the exact value).
        ulong bits = Interop.FloatAsInt(sum);
        if (error != 0 && (bits & 0x7FFF_FFFF_FFFF_FFFFUL) < 0x7FF0_0000_0000_0000UL && (bits & 1) == 0)
        {
            bits = (error > 0) == (sum > 0) ? bits + 1 : bits - 1;
            sum = Interop.IntAsFloat(bits);
        }

        return (float)sum;
    }
}

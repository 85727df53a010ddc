using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// exp and log for SIMD kernels, computed lane by lane with <see cref="MathF"/>: the scalar path, every vector
/// width and the GPU kernel (which calls the scalar path) then round identically. <c>Vector128.Exp</c> and
/// <c>Vector128.Log</c> exist but are not guaranteed to match <see cref="MathF.Exp"/> and <see cref="MathF.Log(float)"/>
/// in the last bit, and a kernel must give the same result at every width. Used by generated expression rules.
/// </summary>
public static class LaneMath
{
    /// <summary>eˣ of each lane.</summary>
    /// <param name="x">The lanes.</param>
    /// <returns>The lanes' exponentials, each equal to <see cref="MathF.Exp"/> of the lane.</returns>
    public static Vector128<float> Exp(Vector128<float> x) => Map(x, MathF.Exp);

    /// <summary>eˣ of each lane.</summary>
    /// <param name="x">The lanes.</param>
    /// <returns>The lanes' exponentials, each equal to <see cref="MathF.Exp"/> of the lane.</returns>
    public static Vector256<float> Exp(Vector256<float> x) => Vector256.Create(Exp(x.GetLower()), Exp(x.GetUpper()));

    /// <summary>eˣ of each lane.</summary>
    /// <param name="x">The lanes.</param>
    /// <returns>The lanes' exponentials, each equal to <see cref="MathF.Exp"/> of the lane.</returns>
    public static Vector512<float> Exp(Vector512<float> x) => Vector512.Create(Exp(x.GetLower()), Exp(x.GetUpper()));

    /// <summary>The natural logarithm of each lane.</summary>
    /// <param name="x">The lanes.</param>
    /// <returns>The lanes' logarithms, each equal to <see cref="MathF.Log(float)"/> of the lane.</returns>
    public static Vector128<float> Log(Vector128<float> x) => Map(x, MathF.Log);

    /// <summary>The natural logarithm of each lane.</summary>
    /// <param name="x">The lanes.</param>
    /// <returns>The lanes' logarithms, each equal to <see cref="MathF.Log(float)"/> of the lane.</returns>
    public static Vector256<float> Log(Vector256<float> x) => Vector256.Create(Log(x.GetLower()), Log(x.GetUpper()));

    /// <summary>The natural logarithm of each lane.</summary>
    /// <param name="x">The lanes.</param>
    /// <returns>The lanes' logarithms, each equal to <see cref="MathF.Log(float)"/> of the lane.</returns>
    public static Vector512<float> Log(Vector512<float> x) => Vector512.Create(Log(x.GetLower()), Log(x.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Map(Vector128<float> x, Func<float, float> f) =>
        Vector128.Create(f(x.GetElement(0)), f(x.GetElement(1)), f(x.GetElement(2)), f(x.GetElement(3)));
}

using System;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace OptGen.Kernels;

/// <summary>
/// The float32 range check of a rule's per-step scalars, called by the generated <c>CreateKernel</c> after it has
/// computed them in double and before the kernel (which stores them as float32) touches any element.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class StepScalars
{
    /// <summary>Throws unless <paramref name="value"/> is finite in float32.</summary>
    /// <param name="value">The scalar, computed in double.</param>
    /// <param name="name">The scalar's name (the exception's parameter name).</param>
    /// <param name="formula">How the scalar is computed, for the message.</param>
    /// <param name="step">The step number t.</param>
    /// <exception cref="ArgumentOutOfRangeException">The value is NaN or beyond ±<see cref="float.MaxValue"/> once rounded to float32.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void RequireFinite(double value, string name, string formula, long step)
    {
        if (!float.IsFinite((float)value))
        {
            Throw(value, name, formula, step, "is not finite in float32");
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is finite in float32 and, if not 0 in double, not 0 in float32 either (the kernel divides by it).</summary>
    /// <param name="value">The scalar, computed in double.</param>
    /// <param name="name">The scalar's name (the exception's parameter name).</param>
    /// <param name="formula">How the scalar is computed, for the message.</param>
    /// <param name="step">The step number t.</param>
    /// <exception cref="ArgumentOutOfRangeException">The value is not finite in float32, or underflows to 0 in float32.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void RequireFiniteNonzero(double value, string name, string formula, long step)
    {
        RequireFinite(value, name, formula, step);
        if ((float)value == 0 && value != 0)
        {
            Throw(value, name, formula, step, "underflows to 0 in float32, and the update divides by it");
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(double value, string name, string formula, long step, string problem) =>
        throw new ArgumentOutOfRangeException(
            name,
            value,
            string.Create(CultureInfo.InvariantCulture, $"The per-step scalar {name} ({formula}) is {value:R} at step {step}, which {problem}: the hyperparameters give a step the float32 kernel cannot take. Nothing was written."));
}

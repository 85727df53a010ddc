using System;
using OptGen.Kernels;

namespace OptGen;

/// <summary>How the optimizer stores its per-element state.</summary>
public enum StatePrecision
{
    /// <summary>float32: 4 bytes per element and buffer (the default).</summary>
    Float32 = 0,

    /// <summary>
    /// bfloat16: 2 bytes per element and buffer, widened to float32 for the math and rounded to nearest even when
    /// stored (Adam: 20 instead of 28 bytes of memory traffic per element and step).
    /// </summary>
    BFloat16 = 1,
}

/// <summary>State precision.</summary>
public abstract partial class Optimizer
{
    /// <summary>How the state is stored; change it with <see cref="ChangeStatePrecision"/>.</summary>
    public StatePrecision StatePrecision => _state.ElementSize == sizeof(float) ? StatePrecision.Float32 : StatePrecision.BFloat16;

    /// <summary>
    /// Converts the state to <paramref name="precision"/>: narrowing rounds every value to nearest even, widening is
    /// exact. With bfloat16 state, <see cref="GetState(string)"/> is unavailable: read the state with
    /// <see cref="CopyState"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a defined value.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; nothing was changed.</exception>
    public void ChangeStatePrecision(StatePrecision precision)
    {
        if (precision is not (StatePrecision.Float32 or StatePrecision.BFloat16))
        {
            throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown state precision.");
        }

        using StepGuard guard = EnterGuard(nameof(ChangeStatePrecision));
        if (precision == StatePrecision)
        {
            return;
        }

        var converted = new StateStorage(_state.Count, Layout.StateLength, precision == StatePrecision.Float32 ? sizeof(float) : sizeof(ushort));
        float[] values = new float[Layout.StateLength];
        for (int k = 0; k < _state.Count; k++)
        {
            ReadPlane(_state, k, 0, values);
            if (converted.ElementSize == sizeof(float))
            {
                values.CopyTo(converted.Elements<float>(k, 0, values.Length));
            }
            else
            {
                Span<ushort> bits = converted.Elements<ushort>(k, 0, values.Length);
                for (int i = 0; i < values.Length; i++)
                {
                    bits[i] = BFloat16Codec.Narrow(values[i]);
                }
            }
        }

        _state = converted;
    }

    /// <summary>Copies tensor <paramref name="tensor"/>'s part of state buffer <paramref name="name"/>, widened to float32, into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The rule has no such state buffer, or <paramref name="destination"/> is not the tensor's length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tensor"/> is not a tensor of <see cref="Layout"/>.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer.</exception>
    public void CopyState(string name, int tensor, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegative(tensor);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tensor, Layout.TensorCount);
        int index = Descriptor.IndexOfState(name);
        if (index < 0)
        {
            throw new ArgumentException($"The rule '{Descriptor.Name}' has no state buffer '{name}'.", nameof(name));
        }

        if (destination.Length != Layout.LengthOf(tensor))
        {
            throw new ArgumentException($"Tensor {tensor} has {Layout.LengthOf(tensor)} elements; the destination has {destination.Length}.", nameof(destination));
        }

        using StepGuard guard = EnterGuard(nameof(CopyState));
        ReadPlane(_state, index, Layout.StateOffsetOf(tensor), destination);
    }

    /// <summary>Reads elements [start, start + values.Length) of plane <paramref name="k"/>, widened to float32.</summary>
    private static void ReadPlane(StateStorage state, int k, int start, Span<float> values)
    {
        if (state.ElementSize == sizeof(float))
        {
            state.Elements<float>(k, start, values.Length).CopyTo(values);
            return;
        }

        ReadOnlySpan<ushort> bits = state.Elements<ushort>(k, start, values.Length);
        for (int i = 0; i < bits.Length; i++)
        {
            values[i] = BitConverter.Int32BitsToSingle(bits[i] << 16);
        }
    }
}
